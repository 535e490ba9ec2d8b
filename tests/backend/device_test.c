/*
 * Devices, tensors and memory: device specs and their errors, the options parser, tensor
 * round trips through staging (bigger than the staging buffer), the sub-allocator under churn
 * (no two live tensors overlap), the pipeline cache file, and proof that the validation
 * messenger counts messages (a deliberate invalid Vulkan call).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "test_util.h"
#include "vulkan/vk_device.h"

static void test_specs(test_env *env) {
    vkft_device *d = NULL;
    CHECK(vkft_device_open(env->ctx, "gpu", &d) == VKFT_ERR_INVALID_ARG && !d);
    CHECK(strstr(vkft_context_error(env->ctx), "expected auto, cpu, vulkan or vulkan:N"));
    CHECK(vkft_device_open(env->ctx, "vulkan:x", &d) == VKFT_ERR_INVALID_ARG);
    CHECK(vkft_device_open(env->ctx, "vulkan:15", &d) == VKFT_ERR_INVALID_ARG);
    CHECK(strstr(vkft_context_error(env->ctx), "vulkan:15"));
    CHECK(vkft_device_open(env->ctx, "auto", &d) == VKFT_OK);
    if (d) {
        /* auto prefers any Vulkan device over the CPU backend */
        const vkft_device_info *info = vkft_device_get_info(d);
        CHECK((info->type == VKFT_DEVICE_CPU_BACKEND) == (env->vk == NULL));
        vkft_device_close(d);
    }
    int n = vkft_device_count(env->ctx);
    vkft_device_info last;
    CHECK(vkft_device_info_get(env->ctx, n - 1, &last) == VKFT_OK);
    CHECK(last.type == VKFT_DEVICE_CPU_BACKEND && !strcmp(last.spec, "cpu"));
    CHECK(vkft_device_info_get(env->ctx, n, &last) == VKFT_ERR_INVALID_ARG);
}

static void test_options(void) {
    vkft_context_options o;
    vkft_context_options_default(&o);
    char msg[256];
    setenv("VKFT_MAX_BUFFER_RANGE", "12x", 1);
    CHECK(vkft_context_options_from_env(&o, msg, sizeof msg) == VKFT_ERR_INVALID_ARG);
    CHECK(strstr(msg, "VKFT_MAX_BUFFER_RANGE"));
    unsetenv("VKFT_MAX_BUFFER_RANGE");
    setenv("VKFT_KERNEL", "fast", 1);
    CHECK(vkft_context_options_from_env(&o, msg, sizeof msg) == VKFT_ERR_INVALID_ARG);
    unsetenv("VKFT_KERNEL");
    /* CPU only: a context without Vulkan has exactly the CPU backend */
    vkft_context_options_default(&o);
    o.no_vulkan = true;
    vkft_context *ctx;
    CHECK(vkft_context_create(&o, &ctx) == VKFT_OK);
    CHECK(vkft_device_count(ctx) == 1 && vkft_context_vulkan_notice(ctx));
    vkft_device *d;
    CHECK(vkft_device_open(ctx, "vulkan", &d) == VKFT_ERR_INVALID_ARG);
    CHECK(strstr(vkft_context_error(ctx), "no Vulkan device"));
    CHECK(vkft_device_open(ctx, "auto", &d) == VKFT_OK);
    if (d) CHECK(vkft_device_get_info(d)->type == VKFT_DEVICE_CPU_BACKEND);
    vkft_device_close(d);
    vkft_context_destroy(ctx);
}

static void test_round_trip(vkft_device *dev) {
    /* 40 MiB: more than the 32 MiB staging buffer, so the copy is chunked */
    int64_t n = 10 * 1024 * 1024 + 7;
    uint32_t *src = malloc((size_t)n * 4), *dst = malloc((size_t)n * 4);
    for (int64_t i = 0; i < n; i++) src[i] = (uint32_t)(i * 2654435761u);
    vkft_tensor *t;
    CHECK_OK(vkft_tensor_create(dev, VKFT_I32, 1, &n, &t), dev);
    CHECK_OK(vkft_tensor_upload(t, src, (size_t)n * 4), dev);
    memset(dst, 0, (size_t)n * 4);
    CHECK_OK(vkft_tensor_download(t, dst, (size_t)n * 4), dev);
    CHECK(!memcmp(src, dst, (size_t)n * 4));
    CHECK(vkft_tensor_upload(t, src, 12) == VKFT_ERR_INVALID_ARG);
    CHECK(strstr(vkft_device_error(dev), "12 bytes"));
    vkft_tensor_destroy(t);
    /* odd byte sizes (u8, f16) round-trip too */
    int64_t m = 13;
    vkft_tensor *u;
    CHECK_OK(vkft_tensor_create(dev, VKFT_U8, 1, &m, &u), dev);
    CHECK_OK(vkft_tensor_upload(u, src, 13), dev);
    CHECK_OK(vkft_tensor_download(u, dst, 13), dev);
    CHECK(!memcmp(src, dst, 13));
    vkft_tensor_destroy(u);
    free(src);
    free(dst);
}

/* Many tensors of varied sizes allocated and freed in a shuffled order; each holds a pattern
 * that must survive the others' writes (no overlap), and accounting returns to its start. */
static void test_allocator(vkft_device *dev) {
    enum { N = 64 };
    vkft_tensor *t[N] = {0};
    uint64_t rng = 7, before = vkft_device_allocated_bytes(dev);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            if (t[i] && test_rand_u64(&rng) % 2) {
                vkft_tensor_destroy(t[i]);
                t[i] = NULL;
            }
            if (!t[i]) {
                int64_t n = 1 + (int64_t)(test_rand_u64(&rng) % 300000);
                CHECK_OK(vkft_tensor_create(dev, VKFT_I32, 1, &n, &t[i]), dev);
                int32_t *p = malloc((size_t)n * 4);
                for (int64_t j = 0; j < n; j++) p[j] = i * 1000003 + (int32_t)j;
                CHECK_OK(vkft_tensor_upload(t[i], p, (size_t)n * 4), dev);
                free(p);
            }
        }
        for (int i = 0; i < N; i++) {
            int64_t n = vkft_tensor_desc(t[i])->shape[0];
            int32_t *p = malloc((size_t)n * 4);
            CHECK_OK(vkft_tensor_download(t[i], p, (size_t)n * 4), dev);
            int bad = 0;
            for (int64_t j = 0; j < n; j++) bad += p[j] != i * 1000003 + (int32_t)j;
            CHECK(bad == 0);
            free(p);
        }
    }
    for (int i = 0; i < N; i++) vkft_tensor_destroy(t[i]);
    CHECK(vkft_device_allocated_bytes(dev) == before);
    /* a tensor bigger than the device's allocation limit is refused with a clear message */
    int64_t huge[2] = {1 << 20, 1 << 20};
    vkft_tensor *h = NULL;
    CHECK(vkft_tensor_create(dev, VKFT_F32, 2, huge, &h) != VKFT_OK && !h);
    int64_t bad_shape[2] = {3, 0};
    CHECK(vkft_tensor_create(dev, VKFT_F32, 2, bad_shape, &h) == VKFT_ERR_SHAPE);
}

/* The messenger must count validation messages, or "no message" proves nothing. */
static void test_validation_counts(test_env *env) {
    if (!env->vk || !getenv("VKFT_VALIDATION")) return;
    vkft_vk_device *vk = env->vk->vk;
    uint64_t before = vkft_context_validation_messages(env->ctx);
    VkBufferCreateInfo bi = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                             .size = 0,  /* invalid: size must be > 0 */
                             .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT};
    VkBuffer b = VK_NULL_HANDLE;
    fprintf(stderr, "(a deliberate validation error follows)\n");
    VkResult r = vkCreateBuffer(vk->device, &bi, NULL, &b);
    if (r == VK_SUCCESS && b) vkDestroyBuffer(vk->device, b, NULL);
    CHECK(vkft_context_validation_messages(env->ctx) > before);
    env->ctx->validation_messages = before;  /* the deliberate one is not a failure */
}

static void test_pipeline_cache(test_env *env) {
    if (!env->vk) return;
    const char *dir = getenv("VKFT_CACHE_DIR");
    if (!dir) return;
    /* run an op so a pipeline exists, close the device (which saves), and look for the file */
    int64_t n = 16;
    vkft_tensor *a;
    CHECK_OK(vkft_tensor_create(env->vk, VKFT_F32, 1, &n, &a), env->vk);
    vkft_scale_params sp = {2.0f, 0.0f};
    CHECK_OK(vkft_op_run(env->vk, VKFT_OP_SCALE, &sp, &a, 1, &a, 1), env->vk);
    char path[600];
    snprintf(path, sizeof path, "%s", env->vk->vk->pipeline_cache_path);
    vkft_tensor_destroy(a);
    vkft_device_close(env->vk);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size > 0);
    CHECK(vkft_device_open(env->ctx, "vulkan", &env->vk) == VKFT_OK);
}

int main(void) {
    test_env env;
    test_env_open(&env);
    test_specs(&env);
    test_options();
    test_round_trip(env.cpu);
    test_allocator(env.cpu);
    if (env.vk) {
        test_round_trip(env.vk);
        test_allocator(env.vk);
        test_validation_counts(&env);
        test_pipeline_cache(&env);
    }
    return test_finish(&env);
}
