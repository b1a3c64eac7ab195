#include <malloc.h>

#include "cli/dispatch.h"

int main(int argc, char** argv) {
  // Buffers of 1 MiB and more (S3 parts, ranged reads, codec windows) are
  // mapped and unmapped one by one. Left to itself glibc raises its mmap
  // threshold after the first such free and then keeps freed parts in each
  // thread's arena, so peak RSS grew with the number of upload threads
  // instead of with the bytes in flight.
  ::mallopt(M_MMAP_THRESHOLD, 1 << 20);
  return cellar::cli::run(argc, argv);
}
