package dev.iteralite.nn;

import dev.iteralite.tensor.Tensor;
import java.util.Arrays;

/**
 * One named trainable tensor of a model: its shape, initialiser, whether weight decay applies,
 * and, once the owning {@link ParameterSet} is built, its value and gradient views into the
 * model's contiguous arenas.
 */
public final class Parameter {
  private final String name;
  private final long[] shape;
  private final Init init;
  private final boolean weightDecay;
  private long offset = -1;
  private Tensor value;
  private Tensor grad;

  Parameter(String name, long[] shape, Init init, boolean weightDecay) {
    this.name = name;
    this.shape = shape.clone();
    this.init = init;
    this.weightDecay = weightDecay;
  }

  public String name() {
    return name;
  }

  public long[] shape() {
    return shape.clone();
  }

  /** Number of elements. */
  public long size() {
    long n = 1;
    for (long s : shape) {
      n = Math.multiplyExact(n, s);
    }
    return n;
  }

  /** Whether AdamW's decoupled weight decay applies (false for norms, biases, A_log, D, dt bias). */
  public boolean weightDecay() {
    return weightDecay;
  }

  Init init() {
    return init;
  }

  /** Element offset of this parameter in the flat parameter, gradient and moment arenas. */
  public long offset() {
    checkBound();
    return offset;
  }

  /** The value view (shape {@link #shape()}). */
  public Tensor value() {
    checkBound();
    return value;
  }

  /** The gradient view, same layout as the value. */
  public Tensor grad() {
    checkBound();
    return grad;
  }

  void bind(long offset, Tensor value, Tensor grad) {
    if (this.value != null) {
      throw new IllegalStateException("parameter " + name + " already belongs to a ParameterSet");
    }
    this.offset = offset;
    this.value = value;
    this.grad = grad;
  }

  private void checkBound() {
    if (value == null) {
      throw new IllegalStateException("parameter " + name + " is not allocated yet: build its ParameterSet first");
    }
  }

  @Override
  public String toString() {
    return name + Arrays.toString(shape) + (weightDecay ? "" : " (no decay)");
  }
}
