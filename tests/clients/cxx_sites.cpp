// Test client: device memory allocated from C++ member functions, whose names a report must show as written.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdio>

namespace wsla_test {

template <typename T>
struct Pool {
  __attribute__((noinline)) T *grow(std::size_t count);
};

template <typename T>
T *Pool<T>::grow(std::size_t count) {
  void *p = nullptr;
  return cudaMalloc(&p, count * sizeof(T)) == cudaSuccess ? static_cast<T *>(p) : nullptr;
}

}  // namespace wsla_test

int main() {
  wsla_test::Pool<float> pool;
  // Kept to the end on purpose: the leak report names the function too.
  float *weights = pool.grow(std::size_t(3) << 20);
  std::printf("weights=%s\n", weights ? "ok" : "failed");
  return weights ? 0 : 1;
}
