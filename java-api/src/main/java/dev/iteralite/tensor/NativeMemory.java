package dev.iteralite.tensor;

import dev.iteralite.nativelib.IteraNative;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.bytedeco.javacpp.Pointer;

/**
 * Counted, 64-byte aligned native memory: the one allocator behind every {@link Tensor}.
 *
 * <p>All tensor memory goes through {@code itera_alloc}/{@code itera_free}, which keep a count of
 * live bytes and blocks; {@link #liveBytes()} is how tests and users check that nothing leaks.
 */
public final class NativeMemory {
  private NativeMemory() {}

  /** Bytes currently allocated by tensors (all threads). */
  public static long liveBytes() {
    return IteraNative.itera_live_bytes();
  }

  /** Number of native blocks currently allocated by tensors (all threads). */
  public static long liveAllocations() {
    return IteraNative.itera_live_allocations();
  }

  static long allocateZeroed(long bytes) {
    if (bytes <= 0) {
      throw new IllegalArgumentException("allocation size must be positive, got " + bytes);
    }
    long address = IteraNative.itera_alloc(bytes);
    if (address == 0) {
      throw new OutOfMemoryError(
          "native allocation of "
              + bytes
              + " bytes failed (live: "
              + liveBytes()
              + " bytes); close unused tensors or arenas");
    }
    Pointer.memset(new RawPointer(address, bytes), 0, bytes);
    return address;
  }

  static void free(long address, long bytes) {
    IteraNative.itera_free(address, bytes);
  }

  /** A direct buffer over {@code bytes} bytes at {@code address} (no ownership), native order. */
  static ByteBuffer wrap(long address, long bytes) {
    if (bytes > Integer.MAX_VALUE) {
      throw new UnsupportedOperationException(
          "element access from Java is limited to tensors under 2 GiB; this one has "
              + bytes
              + " bytes (native kernels handle any size)");
    }
    return new RawPointer(address, bytes).asByteBuffer().order(ByteOrder.nativeOrder());
  }

  /** A non-owning JavaCPP pointer to a raw address, used only to reach JavaCPP's memory helpers. */
  private static final class RawPointer extends Pointer {
    RawPointer(long address, long bytes) {
      this.address = address;
      this.position = 0;
      this.limit = bytes;
      this.capacity = bytes;
    }
  }
}
