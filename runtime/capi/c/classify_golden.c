/* See classify_golden.h. Freestanding C99: no libc, no allocation, so the same file runs on a
 * host and on a microcontroller. */
#include "classify_golden.h"

GmvaeStatus classify_golden(const uint8_t *model_bytes, size_t model_len,
                            const float *images, size_t image_len, size_t count,
                            float *workspace, size_t workspace_len,
                            GmvaeVerdict *results, size_t *failed_at) {
    /* The handle can live anywhere; a static keeps it off a small stack. */
    static GmvaeModel model;
    GmvaeModelInfo info;
    GmvaeStatus status;
    size_t i;

    *failed_at = count;
    status = gmvae_model_parse(model_bytes, model_len, &model);
    if (status != GMVAE_OK) {
        return status;
    }
    status = gmvae_model_info(&model, &info);
    if (status != GMVAE_OK) {
        return status;
    }
    if (info.image_len != image_len) {
        return GMVAE_STATUS_IMAGE_LENGTH;
    }
    if (workspace_len < info.workspace_classify) {
        return GMVAE_STATUS_WORKSPACE_TOO_SMALL;
    }
    for (i = 0; i < count; i++) {
        /* No latent output here: NULL and 0. */
        status = gmvae_classify(&model, images + i * image_len, image_len, workspace,
                                workspace_len, &results[i], NULL, 0);
        if (status != GMVAE_OK) {
            *failed_at = i;
            return status;
        }
    }
    return GMVAE_OK;
}
