#include "qnn.h"

// Bitwise, not table-driven: a natmod may hold no initialised static data, and a model file
// is checked once per load, so 8 steps per byte cost milliseconds even on a Cortex-M0.
int qnn_crc32(qnn_s32_t state, const uint8_t *data, size_t n) {
    if (state.n != 1) {
        return QNN_ERR_AUX_LEN;
    }
    uint32_t crc = ~(uint32_t)state.p[0];
    for (size_t i = 0; i < n; i++) {
        crc ^= data[i];
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    state.p[0] = (int32_t)~crc;
    return QNN_OK;
}
