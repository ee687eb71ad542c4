package dev.iteralite.nn;

import dev.iteralite.backend.Backend;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * All parameters of a model in one contiguous native arena, with gradients in a second arena of
 * the identical layout.
 *
 * <p>Each {@link Parameter} is a named view at a fixed offset (aligned to 16 elements = 64 bytes
 * for F32, so every view starts on a cache line); optimiser moments are allocated with {@link
 * #allocateLike()} and sliced with {@link #viewOf}, so AdamW, gradient norms, clipping, casting and
 * checkpoint I/O are flat loops over the same offsets. Layers register parameters on a {@link
 * Builder} while they are constructed; {@link Builder#build} allocates and initialises them.
 */
public final class ParameterSet implements AutoCloseable {
  /** Alignment of every parameter's offset, in elements. */
  public static final int ALIGN_ELEMENTS = 16;

  private final DType dtype;
  private final List<Parameter> parameters;
  private final Map<String, Parameter> byName;
  private final long totalElements;
  private final Tensor values;
  private final Tensor grads;

  private ParameterSet(DType dtype, List<Parameter> parameters, long[] offsets, long total, long seed) {
    this.dtype = dtype;
    this.parameters = Collections.unmodifiableList(new ArrayList<>(parameters));
    this.totalElements = total;
    Tensor v = Tensor.allocate(dtype, Math.max(1, total));
    Tensor g = null;
    try {
      g = Tensor.allocate(dtype, Math.max(1, total));
      Map<String, Parameter> names = new LinkedHashMap<>();
      for (int i = 0; i < parameters.size(); i++) {
        Parameter p = parameters.get(i);
        long[] shape = p.shape();
        Tensor value = flatView(v, offsets[i], shape);
        Tensor grad = flatView(g, offsets[i], shape);
        p.bind(offsets[i], value, grad);
        names.put(p.name(), p);
        // One independent stream per parameter: adding a parameter does not reshuffle the others.
        SplittableRandom r = new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * (p.name().hashCode() + 1L)));
        double[] init = new double[Math.toIntExact(p.size())];
        p.init().fill(init, shape, r);
        value.copyFrom(init);
      }
      this.byName = Collections.unmodifiableMap(names);
    } catch (RuntimeException e) {
      v.close();
      if (g != null) {
        g.close();
      }
      throw e;
    }
    this.values = v;
    this.grads = g;
  }

  /** A builder for a parameter set of the given element type (F32 for training, F64 for gradient checks). */
  public static Builder builder() {
    return new Builder();
  }

  public DType dtype() {
    return dtype;
  }

  /** Parameters in registration order. */
  public List<Parameter> parameters() {
    return parameters;
  }

  /** The parameter with this name, or an exception listing the known names. */
  public Parameter get(String name) {
    Parameter p = byName.get(name);
    if (p == null) {
      throw new IllegalArgumentException("no parameter named '" + name + "'; known: " + byName.keySet());
    }
    return p;
  }

  /** Total trainable elements (excluding alignment padding). */
  public long parameterCount() {
    long n = 0;
    for (Parameter p : parameters) {
      n += p.size();
    }
    return n;
  }

  /** Elements in the flat arenas, including alignment padding. */
  public long flatSize() {
    return totalElements;
  }

  /** The flat value arena (all parameters and padding). */
  public Tensor values() {
    return values;
  }

  /** The flat gradient arena, same layout as {@link #values()}. */
  public Tensor grads() {
    return grads;
  }

  /** A new zeroed flat tensor with this layout (for optimiser moments); the caller owns it. */
  public Tensor allocateLike() {
    return Tensor.allocate(dtype, Math.max(1, totalElements));
  }

  /** The view of parameter {@code p} inside a flat tensor of this layout. */
  public Tensor viewOf(Tensor flat, Parameter p) {
    if (flat.size() != Math.max(1, totalElements) || flat.rank() != 1) {
      throw new IllegalArgumentException("expected a flat tensor of " + totalElements + " elements, got " + flat.describe());
    }
    return flatView(flat, p.offset(), p.shape());
  }

  /** Sets every gradient to zero. */
  public void zeroGrads(Backend backend) {
    backend.fill(grads, 0f);
  }

  /** Global L2 norm of all gradients. */
  public double gradNorm(Backend backend) {
    return Math.sqrt(backend.sumSquares(grads));
  }

  @Override
  public void close() {
    values.close();
    grads.close();
  }

  private static Tensor flatView(Tensor flat, long offset, long[] shape) {
    return flat.view(offset, shape, Tensor.contiguousStrides(shape));
  }

  /** Collects parameter declarations from layers, then allocates them in one arena. */
  public static final class Builder {
    private final List<Parameter> declared = new ArrayList<>();
    private final Set<String> names = new HashSet<>();
    private boolean built;

    private Builder() {}

    /**
     * Declares a parameter.
     *
     * @param name unique dotted name, e.g. {@code blocks.0.norm.weight}
     * @param weightDecay false for norms, biases and SSM parameters
     */
    public Parameter add(String name, Init init, boolean weightDecay, long... shape) {
      if (built) {
        throw new IllegalStateException("parameters were already built; declare all parameters before build()");
      }
      if (name == null || name.isEmpty()) {
        throw new IllegalArgumentException("parameter name must be non-empty");
      }
      if (!names.add(name)) {
        throw new IllegalArgumentException("duplicate parameter name '" + name + "'");
      }
      if (shape.length == 0) {
        throw new IllegalArgumentException("parameter '" + name + "' needs at least one dimension");
      }
      for (long s : shape) {
        if (s <= 0) {
          throw new IllegalArgumentException("parameter '" + name + "' has a non-positive dimension: " + java.util.Arrays.toString(shape));
        }
      }
      Parameter p = new Parameter(name, shape, init, weightDecay);
      declared.add(p);
      return p;
    }

    /** Allocates and initialises every declared parameter (values from {@code seed}). */
    public ParameterSet build(DType dtype, long seed) {
      if (dtype != DType.F32 && dtype != DType.F64) {
        throw new IllegalArgumentException("trainable parameters are F32 (or F64 for gradient checks), got " + dtype);
      }
      if (built) {
        throw new IllegalStateException("build() may be called once");
      }
      built = true;
      long[] offsets = new long[declared.size()];
      long cursor = 0;
      for (int i = 0; i < declared.size(); i++) {
        offsets[i] = cursor;
        long size = declared.get(i).size();
        cursor = Math.addExact(cursor, (size + ALIGN_ELEMENTS - 1) / ALIGN_ELEMENTS * ALIGN_ELEMENTS);
      }
      return new ParameterSet(dtype, declared, offsets, cursor, seed);
    }
  }
}
