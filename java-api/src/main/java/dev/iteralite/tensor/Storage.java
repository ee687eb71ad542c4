package dev.iteralite.tensor;

import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One native allocation shared by a tensor and its views. Freed exactly once: by the owning
 * tensor's {@code close()} or, as a safety net for code that forgets, when it becomes unreachable.
 */
final class Storage {
  private static final Cleaner CLEANER = Cleaner.create();

  private final long address;
  private final long bytes;
  private final Deallocator deallocator;
  private final Cleaner.Cleanable cleanable;
  private ByteBuffer buffer;

  Storage(long bytes) {
    this.address = NativeMemory.allocateZeroed(bytes);
    this.bytes = bytes;
    this.deallocator =
        new Deallocator(
            address, bytes, NativeMemory.LEAK_TRACING ? new Throwable("allocation site of the leaked tensor") : null);
    this.cleanable = CLEANER.register(this, deallocator);
  }

  long address() {
    checkOpen();
    return address;
  }

  long bytes() {
    return bytes;
  }

  boolean isFreed() {
    return deallocator.freed.get();
  }

  void checkOpen() {
    if (deallocator.freed.get()) {
      throw new IllegalStateException(
          "tensor memory was already released by close(); keep the tensor (or its arena) open"
              + " while it or any view of it is in use");
    }
  }

  ByteBuffer buffer() {
    checkOpen();
    ByteBuffer b = buffer;
    if (b == null) {
      b = NativeMemory.wrap(address, bytes);
      buffer = b;
    }
    return b;
  }

  void free() {
    buffer = null;
    deallocator.closed = true;
    cleanable.clean();
  }

  /** Holds only the address, never the Storage, so the Cleaner can run. */
  private static final class Deallocator implements Runnable {
    private final long address;
    private final long bytes;
    private final Throwable allocationSite;
    private final AtomicBoolean freed = new AtomicBoolean();
    /** Set by close() before it runs this; unset when the Cleaner runs it for an unreachable tensor. */
    private volatile boolean closed;

    Deallocator(long address, long bytes, Throwable allocationSite) {
      this.address = address;
      this.bytes = bytes;
      this.allocationSite = allocationSite;
    }

    @Override
    public void run() {
      if (freed.compareAndSet(false, true)) {
        NativeMemory.free(address, bytes);
        if (!closed) {
          NativeMemory.reclaimed(bytes, allocationSite);
        }
      }
    }
  }
}
