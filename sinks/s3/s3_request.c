/*  s3_request: object keys, addressing, header values, multipart plans
    and S3's XML answers (see s3_request.h). */
#include "s3_request.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "aws_section.h"
#include "digest.h"
#include "pathname.h"
#include "sigv4.h"

int
hm_s3_object_key (const char *blob_path, const char *route, uint64_t first, uint64_t last,
                  uint64_t seal_time, hm_format_t format, char *out, size_t cap)
{
    char dir[2048], name[256];
    if (hm_path_expand (blob_path ? blob_path : "", seal_time, dir, sizeof dir) != 0 ||
        hm_batch_name (route, first, last, seal_time, format, true, name, sizeof name) != 0)
        return -1;
    const char *d = dir;
    while (*d == '/')
        d++;
    size_t dlen = strlen (d);
    const char *sep = (dlen == 0 || d[dlen - 1] == '/') ? "" : "/";
    int n = snprintf (out, cap, "%s%s%s", d, sep, name);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

int
hm_s3_target (const hm_s3_location_t *loc, const char *key, char *host, size_t host_cap,
              hm_buf_t *path)
{
    int n;
    bool virt = loc->addressing == HM_S3_VIRTUAL;
    if (loc->host)
        n = virt ? snprintf (host, host_cap, "%s.%s", loc->bucket, loc->host)
                 : snprintf (host, host_cap, "%s", loc->host);
    else
        n = virt ? snprintf (host, host_cap, "%s.s3.%s.amazonaws.com", loc->bucket, loc->region)
                 : snprintf (host, host_cap, "s3.%s.amazonaws.com", loc->region);
    if (n < 0 || (size_t)n >= host_cap)
        return -1;
    hm_buf_reset (path);
    if (loc->host && loc->base_path && *loc->base_path &&
        hm_sigv4_uri_encode (path, loc->base_path, strlen (loc->base_path), true) != 0)
        return -1;
    if (!virt && (hm_buf_putc (path, '/') != 0 ||
                  hm_sigv4_uri_encode (path, loc->bucket, strlen (loc->bucket), false) != 0))
        return -1;
    if (key) {
        /* S3 signs the path as sent, encoded once: every byte but the
           unreserved ones and '/' becomes %XX, so "a b+c" is "a%20b%2Bc". */
        if (hm_buf_putc (path, '/') != 0 ||
            hm_sigv4_uri_encode (path, key, strlen (key), true) != 0)
            return -1;
    }
    else if (virt && hm_buf_putc (path, '/') != 0)
        return -1;
    return 0;
}

void
hm_s3_content_md5 (const void *data, size_t len, char out[25])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest (data, len, md, &mdlen, EVP_md5 (), NULL);
    hm_base64_encode (md, 16, out);
}

const char *
hm_s3_content_type (hm_format_t format)
{
    return format == HM_FORMAT_CSV ? "text/csv" : "application/x-ndjson";
}

size_t
hm_s3_part_plan (size_t len, size_t part_size, size_t *part_len)
{
    if (part_size == 0)
        part_size = HM_S3_DEFAULT_PART;
    if (len == 0) {
        *part_len = 0;
        return 1;
    }
    /* More than S3's part count: make the parts larger, never more. */
    if ((len + part_size - 1) / part_size > HM_S3_MAX_PARTS)
        part_size = (len + HM_S3_MAX_PARTS - 1) / HM_S3_MAX_PARTS;
    *part_len = part_size;
    return (len + part_size - 1) / part_size;
}

int
hm_s3_complete_body (hm_buf_t *out, char *const *etags, size_t count)
{
    hm_buf_reset (out);
    if (hm_buf_puts (out, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/"
                          "2006-03-01/\">") != 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        if (hm_buf_printf (out, "<Part><PartNumber>%zu</PartNumber><ETag>", i + 1) != 0)
            return -1;
        /* An ETag is hex in quotes; escape anyway, it came from the peer. */
        for (const char *p = etags[i]; *p; p++) {
            int rc = *p == '&'   ? hm_buf_puts (out, "&amp;")
                     : *p == '<' ? hm_buf_puts (out, "&lt;")
                     : *p == '>' ? hm_buf_puts (out, "&gt;")
                                 : hm_buf_putc (out, *p);
            if (rc != 0)
                return -1;
        }
        if (hm_buf_puts (out, "</ETag></Part>") != 0)
            return -1;
    }
    return hm_buf_puts (out, "</CompleteMultipartUpload>");
}

int
hm_s3_upload_id (const char *body, size_t len, char *out, size_t cap)
{
    size_t from = 0;
    const char *text;
    size_t tlen;
    if (hm_xml_element (body, len, &from, "UploadId", &text, &tlen) != 0 || tlen == 0 ||
        tlen >= cap)
        return -1;
    hm_xml_text (text, tlen, out, cap);
    return *out ? 0 : -1;
}

bool
hm_s3_error_document (const char *body, size_t len, char *code, size_t cap)
{
    if (cap)
        code[0] = '\0';
    size_t from = 0;
    const char *text;
    size_t tlen;
    if (!body || hm_xml_element (body, len, &from, "Error", &text, &tlen) != 0)
        return false;
    size_t inner = 0;
    const char *c;
    size_t clen;
    if (hm_xml_element (text, tlen, &inner, "Code", &c, &clen) == 0)
        hm_xml_text (c, clen, code, cap);
    return true;
}
