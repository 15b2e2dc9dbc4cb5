// Running CUDA kernels' own source on the host, so the CPU test suite executes them (no GPU here).
//
// The kernels in *_kernels.cuh use only threadIdx / blockIdx / blockDim / gridDim, __shared__ arrays
// and __syncthreads(): no warp shuffles, no warp-synchronous code. That makes an exact emulation
// small. Under nvcc this header only defines ULMLITE_LAUNCH as the triple-chevron launch.
// Elsewhere:
// - each CUDA thread of a block is a fiber (its own stack, ucontext) on the calling host thread, or,
//   with ULMLITE_EMULATE_WITH_THREADS (the sanitizer builds: ThreadSanitizer needs real threads),
//   a host thread; threadIdx and friends are per CUDA thread either way;
// - __shared__ storage is one per block: a `static` in the kernel, which every thread of the block
//   sees. Blocks run one after another, so one copy serves them all (a mutex serializes launches);
// - __syncthreads() is a barrier over the block's threads still running. A thread that returns
//   early leaves the barrier, as on sm_70 and later. Threads that wait at different barriers, or
//   finish having passed different numbers of them (a barrier in a branch), fail the launch with
//   an error: stricter than the hardware, which leaves that undefined;
// - fibers run in a fixed order between two barriers: thread 0 first on one launch, thread 0 last on
//   the next, so that a missing barrier shows as a wrong result under one of the two orders;
// - kernels without a barrier run their threads one after another (ULMLITE_LAUNCH_SERIAL).
// What this cannot show: the device's code generation, CUDA's math library (the host math of
// pointwise_math.h runs instead), coalescing and speed, cuBLAS, streams and CUDA graphs.
#pragma once

#if defined(__CUDACC__)

#include <c10/macros/Macros.h>

#define ULMLITE_LAUNCH(kernel, grid, block, stream, ...) kernel<<<(grid), (block), 0, (stream)>>>(__VA_ARGS__)
#define ULMLITE_LAUNCH_SERIAL ULMLITE_LAUNCH
// A device-side assert: the kernel stops and the next CUDA call reports it (ATen's losses do this).
#define ULMLITE_KERNEL_ASSERT(cond) CUDA_KERNEL_ASSERT(cond)

#else  // the host emulator

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <ucontext.h>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
// The emulated device-side assert: the launch fails with this message (a RuntimeError in Python).
#define ULMLITE_KERNEL_ASSERT(cond) \
  do {                               \
    if (!(cond)) throw std::runtime_error("emulated kernel: device-side assert failed: " #cond); \
  } while (0)

namespace ulmlite::emu {

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

inline thread_local dim3 threadIdx{0, 0, 0};
inline thread_local dim3 blockIdx{0, 0, 0};
inline thread_local dim3 blockDim{1, 1, 1};
inline thread_local dim3 gridDim{1, 1, 1};

// The barrier of one block. `live` counts the threads that have not returned; a barrier opens when
// every live thread has arrived at it.
class BlockBarrier {
 public:
  explicit BlockBarrier(int threads, double timeout_s) : live_(threads), timeout_(timeout_s) {}

  void arrive_and_wait(int line) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (failed_) throw std::runtime_error(message_);
    if (arrived_ == 0) {
      line_ = line;
    } else if (line != line_) {
      fail("emulated __syncthreads(): threads of one block wait at different barriers (lines " +
           std::to_string(line_) + " and " + std::to_string(line) + ")");
      throw std::runtime_error(message_);
    }
    const uint64_t generation = generation_;
    if (++arrived_ == live_) {
      open();
      return;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_);
    while (generation_ == generation && !failed_) {
      if (changed_.wait_until(lock, deadline) == std::cv_status::timeout && generation_ == generation) {
        fail("emulated __syncthreads(): not every running thread of the block reached the barrier "
             "(a barrier inside a branch, or threads waiting at different barriers)");
      }
    }
    if (failed_) throw std::runtime_error(message_);
  }

  // A thread returned from the kernel, after passing `passed` barriers. Threads that return before
  // their first barrier are fine (an early bounds check); the others must all have passed the same
  // number: stricter than the hardware, which leaves such code undefined.
  void leave(int passed) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (passed > 0) {
      if (passed_ < 0) {
        passed_ = passed;
      } else if (passed != passed_) {
        fail("emulated __syncthreads(): threads of one block passed " + std::to_string(passed_) + " and " +
             std::to_string(passed) + " barriers (a barrier inside a branch not every thread takes)");
      }
    }
    --live_;
    if (arrived_ > 0 && arrived_ == live_) open();
  }

  void fail(const std::string& message) {
    if (!failed_) message_ = message;
    failed_ = true;
    changed_.notify_all();
  }

  std::string error() {
    std::lock_guard<std::mutex> lock(mutex_);
    return failed_ ? message_ : std::string();
  }

  void record(const std::string& message) {
    std::lock_guard<std::mutex> lock(mutex_);
    fail(message);
  }

 private:
  void open() {
    arrived_ = 0;
    ++generation_;
    changed_.notify_all();
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  int live_, arrived_ = 0, line_ = 0, passed_ = -1;
  uint64_t generation_ = 0;
  double timeout_;
  bool failed_ = false;
  std::string message_;
};

inline thread_local BlockBarrier* current_barrier = nullptr;
inline thread_local int barriers_passed = 0;


inline std::mutex& launch_mutex() {
  static std::mutex m;
  return m;
}

inline double barrier_timeout_s() { return 10.0; }

// All the threads of a launch meet here between two blocks (the next block reuses the shared arrays).
class Fence {
 public:
  explicit Fence(int threads) : threads_(threads) {}
  template <typename F>
  void arrive_and_wait(F&& last) {  // `last` runs once, in the last thread to arrive, before any leaves
    std::unique_lock<std::mutex> lock(mutex_);
    const uint64_t generation = generation_;
    if (++arrived_ == threads_) {
      last();
      arrived_ = 0;
      ++generation_;
      changed_.notify_all();
      return;
    }
    changed_.wait(lock, [&] { return generation_ != generation; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int threads_, arrived_ = 0;
  uint64_t generation_ = 0;
};

// A launch with one host thread per CUDA thread (for kernels with barriers). The threads are made
// once per launch and run the blocks in order, meeting at a fence after each.
inline void launch_threads(dim3 grid, dim3 block, const std::function<void()>& body) {
  std::lock_guard<std::mutex> serialize(launch_mutex());
  const int n = static_cast<int>(block.x * block.y * block.z);
  const int64_t blocks = static_cast<int64_t>(grid.x) * grid.y * grid.z;
  if (n == 0 || blocks == 0) return;
  auto barrier = std::make_unique<BlockBarrier>(n, barrier_timeout_s());
  std::string error;
  Fence fence(n);
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (int k = 0; k < n; ++k) {
    threads.emplace_back([&, k] {
      threadIdx = dim3(k % block.x, (k / block.x) % block.y, k / (block.x * block.y));
      blockDim = block;
      gridDim = grid;
      for (int64_t b = 0; b < blocks && error.empty(); ++b) {
        blockIdx = dim3(b % grid.x, (b / grid.x) % grid.y, b / (static_cast<int64_t>(grid.x) * grid.y));
        current_barrier = barrier.get();
        barriers_passed = 0;
        try {
          body();
        } catch (const std::exception& err) {
          barrier->record(err.what());
        }
        current_barrier = nullptr;
        barrier->leave(barriers_passed);
        fence.arrive_and_wait([&] {  // the block is done: check it, and make a fresh barrier
          error = barrier->error();
          barrier = std::make_unique<BlockBarrier>(n, barrier_timeout_s());
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  if (!error.empty()) throw std::runtime_error(error);
}

// The fiber launch: every CUDA thread of a block is a ucontext fiber on this host thread. Between
// two barriers the fibers run one after another, each until its next __syncthreads() or its end.
struct FiberBlock {
  struct Fiber {
    ucontext_t context;
    std::unique_ptr<char[]> stack;
    int line = 0, passed = 0;
    bool done = false;
  };
  ucontext_t scheduler;
  std::vector<Fiber> fibers;
  const std::function<void()>* body = nullptr;
  int running = -1;
  std::string error;
};

inline thread_local FiberBlock* current_fibers = nullptr;

inline void fiber_entry() {
  FiberBlock& block = *current_fibers;
  auto& me = block.fibers[block.running];
  try {
    (*block.body)();
  } catch (const std::exception& err) {
    if (block.error.empty()) block.error = err.what();
  }
  me.done = true;
  swapcontext(&me.context, &block.scheduler);  // never resumed
}

inline void fiber_syncthreads(int line) {
  FiberBlock& block = *current_fibers;
  auto& me = block.fibers[block.running];
  me.line = line;
  swapcontext(&me.context, &block.scheduler);
  ++me.passed;
}

inline uint64_t& launch_count() {
  static uint64_t n = 0;
  return n;
}

inline void launch_fibers(dim3 grid, dim3 block, const std::function<void()>& body) {
  std::lock_guard<std::mutex> serialize(launch_mutex());
  const int n = static_cast<int>(block.x * block.y * block.z);
  const int64_t blocks = static_cast<int64_t>(grid.x) * grid.y * grid.z;
  if (n == 0 || blocks == 0) return;
  const bool reverse = (launch_count()++ % 2) == 1;
  constexpr size_t kStack = 256 * 1024;
  FiberBlock state;
  state.body = &body;
  state.fibers.resize(n);
  for (auto& f : state.fibers) f.stack.reset(new char[kStack]);
  FiberBlock* outer = current_fibers;
  current_fibers = &state;
  const auto select = [&](int k) {
    threadIdx = dim3(k % block.x, (k / block.x) % block.y, k / (block.x * block.y));
    state.running = k;
  };
  blockDim = block;
  gridDim = grid;
  for (int64_t b = 0; b < blocks && state.error.empty(); ++b) {
    blockIdx = dim3(b % grid.x, (b / grid.x) % grid.y, b / (static_cast<int64_t>(grid.x) * grid.y));
    for (auto& f : state.fibers) {
      f.line = f.passed = 0;
      f.done = false;
      getcontext(&f.context);
      f.context.uc_stack.ss_sp = f.stack.get();
      f.context.uc_stack.ss_size = kStack;
      f.context.uc_link = nullptr;
      makecontext(&f.context, &fiber_entry, 0);
    }
    for (int live = n; live > 0 && state.error.empty();) {  // one phase: every live fiber to its next barrier
      int line = 0;
      for (int i = 0; i < n && state.error.empty(); ++i) {
        const int k = reverse ? n - 1 - i : i;
        auto& f = state.fibers[k];
        if (f.done) continue;
        select(k);
        swapcontext(&state.scheduler, &f.context);
        if (f.done) continue;
        if (line == 0) {
          line = f.line;
        } else if (f.line != line) {
          state.error = "emulated __syncthreads(): threads of one block wait at different barriers (lines " +
                        std::to_string(line) + " and " + std::to_string(f.line) + ")";
        }
      }
      live = 0;
      int finished_after = -1;
      for (auto& f : state.fibers) {
        if (!f.done) {
          ++live;
        } else if (f.passed > 0) {
          if (finished_after >= 0 && f.passed != finished_after) {
            state.error = "emulated __syncthreads(): threads of one block passed " + std::to_string(finished_after) +
                          " and " + std::to_string(f.passed) + " barriers (a barrier inside a branch not every "
                          "thread takes)";
          }
          finished_after = f.passed;
        }
      }
      if (live > 0 && finished_after >= 0 && state.error.empty()) {
        state.error = "emulated __syncthreads(): a thread finished while others still wait at a barrier it "
                      "passed fewer of (a barrier inside a branch not every thread takes)";
      }
    }
  }
  current_fibers = outer;
  if (!state.error.empty()) throw std::runtime_error(state.error);
}

// A launch that runs the block's threads one after another (kernels without barriers).
inline void launch_serial(dim3 grid, dim3 block, const std::function<void()>& body) {
  std::lock_guard<std::mutex> serialize(launch_mutex());
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx)
        for (unsigned k = 0; k < block.x * block.y * block.z; ++k) {
          threadIdx = dim3(k % block.x, (k / block.x) % block.y, k / (block.x * block.y));
          blockIdx = dim3(bx, by, bz);
          blockDim = block;
          gridDim = grid;
          body();
        }
}

inline void syncthreads(int line) {
  if (current_fibers != nullptr) {
    fiber_syncthreads(line);
    return;
  }
  if (current_barrier == nullptr) {
    throw std::logic_error("__syncthreads() in a kernel launched with ULMLITE_LAUNCH_SERIAL");
  }
  current_barrier->arrive_and_wait(line);
  ++barriers_passed;
}

}  // namespace ulmlite::emu

// Kernels name these unqualified, as in CUDA.
using ulmlite::emu::blockDim;
using ulmlite::emu::blockIdx;
using ulmlite::emu::dim3;
using ulmlite::emu::gridDim;
using ulmlite::emu::threadIdx;
#define __syncthreads() ::ulmlite::emu::syncthreads(__LINE__)

#if defined(ULMLITE_EMULATE_WITH_THREADS)
#define ULMLITE_LAUNCH(kernel, grid, block, stream, ...) \
  ::ulmlite::emu::launch_threads(dim3(grid), dim3(block), [&] { kernel(__VA_ARGS__); })
#else
#define ULMLITE_LAUNCH(kernel, grid, block, stream, ...) \
  ::ulmlite::emu::launch_fibers(dim3(grid), dim3(block), [&] { kernel(__VA_ARGS__); })
#endif
#define ULMLITE_LAUNCH_SERIAL(kernel, grid, block, stream, ...) \
  ::ulmlite::emu::launch_serial(dim3(grid), dim3(block), [&] { kernel(__VA_ARGS__); })

#endif
