package dev.iteralite.tensor;

import dev.iteralite.nativelib.IteraNative;
import dev.iteralite.nativelib.RawPointer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicLong;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

/**
 * Counted, 64-byte aligned native memory: the one allocator behind every {@link Tensor}.
 *
 * <p>Tensor memory comes from the kernel library's {@code itera_alloc} (64-byte aligned, so SIMD
 * loads never split cache lines). Where that library cannot load, tensors still work for the
 * reference backend: memory then comes from JavaCPP's {@code malloc}. Either way every block is
 * counted, and {@link #liveBytes()} is how tests and users check that nothing leaks.
 */
public final class NativeMemory {
  private static final AtomicLong LIVE_BYTES = new AtomicLong();
  private static final AtomicLong LIVE_BLOCKS = new AtomicLong();
  private static final boolean KERNEL_ALLOCATOR = kernelLibraryLoads();

  private NativeMemory() {}

  /** Bytes currently allocated by tensors (all threads). */
  public static long liveBytes() {
    return LIVE_BYTES.get();
  }

  /** Number of native blocks currently allocated by tensors (all threads). */
  public static long liveAllocations() {
    return LIVE_BLOCKS.get();
  }

  /** Whether memory comes from the kernel library's aligned allocator (false: JavaCPP fallback). */
  public static boolean usesKernelAllocator() {
    return KERNEL_ALLOCATOR;
  }

  private static boolean kernelLibraryLoads() {
    try {
      IteraNative.load();
      return true;
    } catch (LinkageError | RuntimeException e) {
      return false;
    }
  }

  static long allocateZeroed(long bytes) {
    if (bytes <= 0) {
      throw new IllegalArgumentException("allocation size must be positive, got " + bytes);
    }
    long address = KERNEL_ALLOCATOR ? IteraNative.itera_alloc(bytes) : Pointer.malloc(bytes).address();
    if (address == 0) {
      throw new OutOfMemoryError(
          "native allocation of "
              + bytes
              + " bytes failed (live: "
              + liveBytes()
              + " bytes); close unused tensors or arenas");
    }
    Pointer.memset(new RawPointer(address, bytes), 0, bytes);
    LIVE_BYTES.addAndGet(bytes);
    LIVE_BLOCKS.incrementAndGet();
    return address;
  }

  static void free(long address, long bytes) {
    if (KERNEL_ALLOCATOR) {
      IteraNative.itera_free(address, bytes);
    } else {
      Pointer.free(new RawPointer(address, bytes));
    }
    LIVE_BYTES.addAndGet(-bytes);
    LIVE_BLOCKS.decrementAndGet();
  }

  /** A direct buffer over exactly {@code bytes} bytes at {@code address} (no ownership), native order. */
  public static ByteBuffer wrap(long address, long bytes) {
    if (bytes > Integer.MAX_VALUE) {
      throw new UnsupportedOperationException(
          "element access from Java is limited to tensors under 2 GiB; this one has "
              + bytes
              + " bytes (native kernels handle any size)");
    }
    // Through BytePointer: RawPointer's element size is 8 (sizeof a pointer), so its own buffer
    // would span 8x the bytes asked for.
    return new BytePointer(new RawPointer(address, bytes)).capacity(bytes).asByteBuffer().order(ByteOrder.nativeOrder());
  }
}
