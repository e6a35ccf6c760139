// fauxqs on 127.0.0.1: fauxqs's own command line always listens on
// 0.0.0.0 (no option for the address), so this starts it the same way
// with every listen on 0.0.0.0 turned into 127.0.0.1 before fauxqs loads.
//
//   node fauxqs-local.mjs PORT   (FAUXQS_DATA_DIR, FAUXQS_INIT, FAUXQS_LOGGER apply)
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (args[0] && typeof args[0] === 'object' && (!args[0].host || args[0].host === '0.0.0.0' || args[0].host === '::'))
    args[0] = { ...args[0], host: '127.0.0.1' };
  else if (typeof args[0] === 'number' && (typeof args[1] !== 'string' || args[1] === '0.0.0.0' || args[1] === '::'))
    args.splice(1, typeof args[1] === 'string' ? 1 : 0, '127.0.0.1');
  return listen.apply(this, args);
};

const port = Number(process.argv[2] || process.env.FAUXQS_PORT || 4566);
const { startFauxqs } = await import('fauxqs');
// FAUXQS_DATA_DIR: keep queues, topics and messages in SQLite there, so a
// restarted fauxqs still has them (the "emulator away for a while" tests).
const server = await startFauxqs({
  port,
  logger: process.env.FAUXQS_LOGGER === 'true',
  dataDir: process.env.FAUXQS_DATA_DIR || undefined,
});
console.log(`fauxqs on ${server.address}`);
for (const sig of ['SIGTERM', 'SIGINT'])
  process.on(sig, async () => {
    await server.stop?.();
    process.exit(0);
  });
