// Second source of the two-source fixture (one CudaCompile action per .cu).
__global__ void tiny2_kernel(int* out) { out[0] = TINY_EXTRA; }
