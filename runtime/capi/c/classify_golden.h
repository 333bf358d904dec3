/* The C example: classify a batch of images with the gmvae C interface. Shared by the host
 * program (host_main.c) and the Cortex-M firmware (runtime/firmware), which both print the
 * results for runtime/firmware/compare.py to check against fixtures/golden/expected.json. */
#ifndef CLASSIFY_GOLDEN_H
#define CLASSIFY_GOLDEN_H

#include "gmvae.h"

/* Parses the model and classifies `count` images of `image_len` floats each, writing one
 * verdict per image to `results`. `workspace` holds `workspace_len` floats (at least the
 * model's workspace_classify). Returns GMVAE_OK or the first failing call's status; sets
 * *failed_at to the image that failed (or `count` when parsing failed or all succeeded). */
GmvaeStatus classify_golden(const uint8_t *model_bytes, size_t model_len,
                            const float *images, size_t image_len, size_t count,
                            float *workspace, size_t workspace_len,
                            GmvaeVerdict *results, size_t *failed_at);

#endif
