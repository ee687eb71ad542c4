package dev.iteralite.tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * A scope that owns tensors allocated through it and releases them all at once: the home of
 * per-step activations and scratch buffers.
 *
 * <pre>{@code
 * try (Arena step = Arena.open()) {
 *   Tensor h = step.allocate(DType.F32, tokens, dModel);
 *   ...
 * } // every tensor allocated in `step` is freed here
 * }</pre>
 *
 * <p>Not thread-safe: one arena per thread of work.
 */
public final class Arena implements AutoCloseable {
  private final List<Tensor> tensors = new ArrayList<>();
  private boolean closed;

  private Arena() {}

  /** A new, empty arena. */
  public static Arena open() {
    return new Arena();
  }

  /** A zero-filled tensor owned by this arena. */
  public Tensor allocate(DType dtype, long... shape) {
    checkOpen();
    Tensor t = Tensor.allocate(dtype, shape);
    tensors.add(t);
    return t;
  }

  /** Hands an existing tensor to this arena, which will close it. Returns the tensor. */
  public Tensor adopt(Tensor tensor) {
    checkOpen();
    tensors.add(tensor);
    return tensor;
  }

  /** Number of tensors this arena currently owns. */
  public int tensorCount() {
    return tensors.size();
  }

  /** Frees every tensor allocated so far and leaves the arena open for reuse. */
  public void reset() {
    checkOpen();
    releaseAll();
  }

  /** Frees every tensor owned by this arena, newest first. Idempotent. */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      releaseAll();
    }
  }

  private void releaseAll() {
    for (int i = tensors.size() - 1; i >= 0; i--) {
      tensors.get(i).close();
    }
    tensors.clear();
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("arena is closed; open a new one for further allocations");
    }
  }
}
