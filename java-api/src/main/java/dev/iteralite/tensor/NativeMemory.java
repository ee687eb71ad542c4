package dev.iteralite.tensor;

import dev.iteralite.nativelib.IteraNative;
import dev.iteralite.nativelib.RawPointer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicLong;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Counted, 64-byte aligned native memory: the one allocator behind every {@link Tensor}.
 *
 * <p>Tensor memory comes from the kernel library's {@code itera_alloc} (64-byte aligned, so SIMD
 * loads never split cache lines). Where that library cannot load, tensors still work for the
 * reference backend: memory then comes from JavaCPP's {@code malloc}. Either way every block is
 * counted, and {@link #unreleasedBytes()} is how tests and users check that nothing leaks.
 *
 * <p>A tensor that is never closed is freed by a garbage-collector safety net once unreachable;
 * that memory is counted as {@linkplain #reclaimedBytes() reclaimed}, and the first such leak is
 * logged. Run with {@code -Ditera.leakTracing=true} to record where every tensor was allocated, so
 * each reclaimed one is logged with the stack that made it.
 */
public final class NativeMemory {
  private static final AtomicLong LIVE_BYTES = new AtomicLong();
  private static final AtomicLong LIVE_BLOCKS = new AtomicLong();
  private static final AtomicLong RECLAIMED_BYTES = new AtomicLong();
  private static final AtomicLong RECLAIMED_BLOCKS = new AtomicLong();
  private static final Logger LOG = LoggerFactory.getLogger(NativeMemory.class);
  static final boolean LEAK_TRACING = Boolean.getBoolean("itera.leakTracing");
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

  /**
   * Bytes allocated and not yet released by {@code close()}: {@link #liveBytes()} plus
   * {@link #reclaimedBytes()}. It does not drop when the garbage collector frees a forgotten
   * tensor, so comparing it before and after a piece of work is a leak check that does not depend
   * on when the collector runs.
   */
  public static long unreleasedBytes() {
    return LIVE_BYTES.get() + RECLAIMED_BYTES.get();
  }

  /** Number of native blocks counted by {@link #unreleasedBytes()}. */
  public static long unreleasedAllocations() {
    return LIVE_BLOCKS.get() + RECLAIMED_BLOCKS.get();
  }

  /**
   * Bytes of tensors that were never closed and were freed by the garbage-collector safety net
   * instead; anything above zero is a leak in the code that made those tensors.
   */
  public static long reclaimedBytes() {
    return RECLAIMED_BYTES.get();
  }

  /** Number of native blocks counted by {@link #reclaimedBytes()}. */
  public static long reclaimedAllocations() {
    return RECLAIMED_BLOCKS.get();
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

  /** Counts a block the safety net freed because its tensor was never closed, and says so. */
  static void reclaimed(long bytes, Throwable allocationSite) {
    long blocks = RECLAIMED_BLOCKS.incrementAndGet();
    RECLAIMED_BYTES.addAndGet(bytes);
    if (allocationSite != null) {
      LOG.warn("a tensor of {} bytes was never closed; the garbage collector freed it", bytes, allocationSite);
    } else if (blocks == 1) {
      LOG.warn(
          "a tensor of {} bytes was never closed; the garbage collector freed it. Close tensors"
              + " (or their arena) when done; run with -Ditera.leakTracing=true to log where each"
              + " leaked tensor was allocated",
          bytes);
    }
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
