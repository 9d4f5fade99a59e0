// Fixture header for tiny.cu.
#pragma once

#define TINY_VALUE 42

int tiny_host_entry();
