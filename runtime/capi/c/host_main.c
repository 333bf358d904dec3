/* The C example on a host: reads a model file and a file of little-endian f32 images,
 * classifies every image through the C interface and prints one line per verdict with the
 * exact bit patterns (the format runtime/firmware/compare.py reads).
 *
 *   host_main MODEL.gmvae IMAGES.f32le IMAGE_LEN
 *
 * Built and run by runtime/firmware/run.sh (with the static library from
 * `cargo rustc --release -p gmvae-capi --features std --crate-type staticlib`). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify_golden.h"

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    unsigned char *data = NULL;
    long size;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0 || (data = malloc(size > 0 ? (size_t)size : 1)) == NULL ||
        fread(data, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "host_main: cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    *len = (size_t)size;
    return data;
}

static unsigned int bits(float v) {
    unsigned int u;
    memcpy(&u, &v, sizeof u);
    return u;
}

int main(int argc, char **argv) {
    size_t model_len, images_len, image_len, count, i, failed_at;
    unsigned char *model_bytes, *image_bytes;
    float *images, *workspace;
    GmvaeVerdict *results;
    GmvaeModel model;
    GmvaeModelInfo info;
    GmvaeStatus status;

    if (argc != 4) {
        fprintf(stderr, "usage: host_main MODEL.gmvae IMAGES.f32le IMAGE_LEN\n");
        return 2;
    }
    model_bytes = read_file(argv[1], &model_len);
    image_bytes = read_file(argv[2], &images_len);
    image_len = (size_t)strtoul(argv[3], NULL, 10);
    if (image_len == 0 || images_len % (image_len * sizeof(float)) != 0) {
        fprintf(stderr, "host_main: %s is not a whole number of %zu-float images\n", argv[2],
                image_len);
        return 2;
    }
    count = images_len / (image_len * sizeof(float));
    /* The file is little-endian f32; so is every host this runs on (checked by the bits). */
    images = malloc(images_len);
    memcpy(images, image_bytes, images_len);

    /* Size the workspace from the model itself. */
    status = gmvae_model_parse(model_bytes, model_len, &model);
    if (status == GMVAE_OK) {
        status = gmvae_model_info(&model, &info);
    }
    if (status != GMVAE_OK) {
        fprintf(stderr, "host_main: %s: %s\n", argv[1], gmvae_status_name(status));
        return 1;
    }
    workspace = malloc(info.workspace_classify * sizeof(float));
    results = malloc(count * sizeof(GmvaeVerdict));

    status = classify_golden(model_bytes, model_len, images, image_len, count, workspace,
                             info.workspace_classify, results, &failed_at);
    if (status != GMVAE_OK) {
        fprintf(stderr, "host_main: image %zu: %s\n", failed_at, gmvae_status_name(status));
        return 1;
    }
    for (i = 0; i < count; i++) {
        printf("c-example %zu label=%u accepted=%d rejected_latent=%d "
               "rejected_reconstruction=%d mahalanobis_sq=0x%08x reconstruction_error=0x%08x\n",
               i, (unsigned)results[i].label, results[i].accepted, results[i].rejected_latent,
               results[i].rejected_reconstruction, bits(results[i].mahalanobis_sq),
               bits(results[i].reconstruction_error));
    }
    return 0;
}
