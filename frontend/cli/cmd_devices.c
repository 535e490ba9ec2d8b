/* vkft devices [--json]: every device the library can use, with its limits and features. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char *type_name(vkft_device_type t) {
    switch (t) {
    case VKFT_DEVICE_CPU_BACKEND: return "cpu-backend";
    case VKFT_DEVICE_DISCRETE_GPU: return "discrete-gpu";
    case VKFT_DEVICE_INTEGRATED_GPU: return "integrated-gpu";
    case VKFT_DEVICE_VIRTUAL_GPU: return "virtual-gpu";
    case VKFT_DEVICE_VULKAN_CPU: return "cpu";
    default: return "other";
    }
}

static void json_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20) printf("\\u%04x", *s);
        else putchar(*s);
    }
    putchar('"');
}

static void print_json(const vkft_device_info *d, int last) {
    printf("  {\"spec\": ");
    json_str(d->spec);
    printf(", \"name\": ");
    json_str(d->name);
    printf(", \"type\": \"%s\", \"vendor_id\": %u, \"device_id\": %u, \"driver\": ",
           type_name(d->type), d->vendor_id, d->device_id);
    json_str(d->driver_name);
    printf(", \"driver_info\": ");
    json_str(d->driver_info);
    printf(", \"api_version\": \"%u.%u.%u\", \"heaps\": [", d->api_version >> 22,
           (d->api_version >> 12) & 0x3ff, d->api_version & 0xfff);
    for (int h = 0; h < d->heap_count; h++)
        printf("%s{\"size\": %llu, \"device_local\": %s}", h ? ", " : "",
               (unsigned long long)d->heap_size[h], d->heap_device_local[h] ? "true" : "false");
    printf("], \"max_storage_buffer_range\": %llu, \"max_memory_allocation_size\": %llu, "
           "\"max_texel_buffer_elements\": %llu, \"max_shared_memory\": %u, "
           "\"subgroup_size\": %u, ",
           (unsigned long long)d->max_storage_buffer_range,
           (unsigned long long)d->max_memory_allocation_size,
           (unsigned long long)d->max_texel_buffer_elements, d->max_shared_memory,
           d->subgroup_size);
    printf("\"features\": {\"fp16_arithmetic\": %s, \"int8_arithmetic\": %s, "
           "\"storage_16bit\": %s, \"storage_8bit\": %s, \"buffer_device_address\": %s, "
           "\"cooperative_matrix\": %s, \"timestamps\": %s}",
           d->fp16_arithmetic ? "true" : "false", d->int8_arithmetic ? "true" : "false",
           d->storage_16bit ? "true" : "false", d->storage_8bit ? "true" : "false",
           d->buffer_device_address ? "true" : "false", d->cooperative_matrix ? "true" : "false",
           d->timestamps ? "true" : "false");
    if (d->type == VKFT_DEVICE_CPU_BACKEND) printf(", \"threads\": %d", d->cpu_threads);
    printf("}%s\n", last ? "" : ",");
}

static void print_text(const vkft_device_info *d) {
    printf("%-10s %s (%s)\n", d->spec, d->name, type_name(d->type));
    printf("    driver        %s %s\n", d->driver_name, d->driver_info);
    if (d->type == VKFT_DEVICE_CPU_BACKEND) {
        printf("    threads       %d\n", d->cpu_threads);
        printf("    memory        %.1f GiB\n", (double)d->heap_size[0] / 1073741824.0);
        return;
    }
    printf("    vendor/device 0x%04x/0x%04x, Vulkan %u.%u.%u\n", d->vendor_id, d->device_id,
           d->api_version >> 22, (d->api_version >> 12) & 0x3ff, d->api_version & 0xfff);
    for (int h = 0; h < d->heap_count; h++)
        printf("    heap %d        %.1f GiB%s\n", h, (double)d->heap_size[h] / 1073741824.0,
               d->heap_device_local[h] ? " device-local" : "");
    printf("    limits        storage range %.0f MiB, allocation %.0f MiB, texels %llu, "
           "shared %u KiB, subgroup %u\n",
           (double)d->max_storage_buffer_range / 1048576.0,
           (double)d->max_memory_allocation_size / 1048576.0,
           (unsigned long long)d->max_texel_buffer_elements, d->max_shared_memory / 1024,
           d->subgroup_size);
    printf("    features      fp16 %s, int8 %s, 16-bit storage %s, 8-bit storage %s, "
           "buffer address %s, cooperative matrix %s, timestamps %s\n",
           d->fp16_arithmetic ? "yes" : "no", d->int8_arithmetic ? "yes" : "no",
           d->storage_16bit ? "yes" : "no", d->storage_8bit ? "yes" : "no",
           d->buffer_device_address ? "yes" : "no", d->cooperative_matrix ? "yes" : "no",
           d->timestamps ? "yes" : "no");
}

int cmd_devices(int argc, char **argv) {
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else {
            fprintf(stderr, "vkft devices: unknown option '%s' (usage: vkft devices [--json])\n",
                    argv[i]);
            return 2;
        }
    }
    vkft_context *ctx = cli_context_open();
    if (!ctx) return 1;
    const char *notice = vkft_context_vulkan_notice(ctx);
    if (notice) fprintf(stderr, "vkft: %s\n", notice);
    int n = vkft_device_count(ctx);
    if (json) printf("[\n");
    for (int i = 0; i < n; i++) {
        vkft_device_info info;
        vkft_device_info_get(ctx, i, &info);
        if (json) print_json(&info, i == n - 1);
        else print_text(&info);
    }
    if (json) printf("]\n");
    vkft_context_destroy(ctx);
    return 0;
}
