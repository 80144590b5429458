#include "qnn.h"

int qnn_fill(qnn_any_t t, int32_t value) {
    if (t.size == 1 && value >= -128 && value <= 127) {
        for (size_t i = 0; i < t.n; i++) {
            ((int8_t *)t.p)[i] = (int8_t)value;
        }
        return QNN_OK;
    }
    if (t.size == 4) {
        for (size_t i = 0; i < t.n; i++) {
            ((int32_t *)t.p)[i] = value;
        }
        return QNN_OK;
    }
    return QNN_ERR_PARAMS;
}
