/*  replay: runs a fuzz target over files, without libFuzzer. The normal
    build links every fuzz target with this, and `make test` replays the
    committed corpora (tests/fuzz/corpus/TARGET/): each input that once found
    a bug, and the seeds, stays a test. Arguments: files or directories. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define S_MAX_INPUT (4u << 20)

static int
s_run_file (const char *path)
{
    FILE *f = fopen (path, "rb");
    if (!f) {
        perror (path);
        return -1;
    }
    uint8_t *buf = malloc (S_MAX_INPUT);
    size_t n = buf ? fread (buf, 1, S_MAX_INPUT, f) : 0;
    int bad = !buf || ferror (f) || !feof (f);
    fclose (f);
    if (bad) {
        fprintf (stderr, "replay: %s: unreadable or over %u bytes\n", path, S_MAX_INPUT);
        free (buf);
        return -1;
    }
    /* An exact-size copy, so ASan sees a read past the input's end. */
    uint8_t *input = malloc (n ? n : 1);
    if (input)
        memcpy (input, buf, n);
    free (buf);
    if (!input)
        return -1;
    LLVMFuzzerTestOneInput (input, n);
    free (input);
    return 0;
}

static int
s_cmp (const void *a, const void *b)
{
    return strcmp (*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file in dir, in name order; returns how many. */
static long
s_run_dir (const char *dir)
{
    DIR *d = opendir (dir);
    if (!d) {
        perror (dir);
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir (d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **more = realloc (names, cap * sizeof *names);
            if (!more)
                break;
            names = more;
        }
        names[n] = malloc (strlen (dir) + strlen (e->d_name) + 2);
        if (!names[n])
            break;
        sprintf (names[n], "%s/%s", dir, e->d_name);
        n++;
    }
    closedir (d);
    if (n)
        qsort (names, n, sizeof *names, s_cmp);
    long ran = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat (names[i], &st) == 0 && S_ISREG (st.st_mode)) {
            if (s_run_file (names[i]) != 0)
                ran = -1;
            else if (ran >= 0)
                ran++;
        }
        free (names[i]);
    }
    free (names);
    return ran;
}

int
main (int argc, char **argv)
{
    if (argc < 2) {
        fprintf (stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    long total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        long ran = stat (argv[i], &st) == 0 && S_ISDIR (st.st_mode) ? s_run_dir (argv[i])
                   : s_run_file (argv[i]) == 0                      ? 1
                                                                    : -1;
        if (ran < 0)
            return 1;
        total += ran;
    }
    /* A corpus that ran nothing tests nothing. */
    if (total == 0) {
        fprintf (stderr, "replay: no inputs found\n");
        return 1;
    }
    printf ("replay: %ld inputs, no failure\n", total);
    return 0;
}
