// Links tiny.cu's object (built by cuda_library) into a host binary.
#include "tests/analysis/tiny.h"

int main() { return tiny_host_entry() == TINY_VALUE ? 0 : 1; }
