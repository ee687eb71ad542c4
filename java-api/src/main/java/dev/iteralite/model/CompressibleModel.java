package dev.iteralite.model;

import dev.iteralite.tensor.Tensor;
import java.util.List;

/**
 * A causal language model whose weight matrices {@link QuantizedModel} can store in a compressed
 * format and decode from: it names its compressible matrices, hands out their F32 source tensors,
 * and builds a decoding session that runs the compressed copies through the quantised kernels.
 */
public interface CompressibleModel extends CausalLm {
  /**
   * The names of the compressible matrices, in a fixed order: the names {@link PrecisionPlan}
   * rules match and compressed checkpoints record (unmodifiable).
   */
  List<String> compressibleMatrices();

  /**
   * The F32 tensor {@code [rows, cols]} of matrix {@code name} (rows are output features; a view
   * into the parameter, e.g. one expert's slice of a stacked MoE weight).
   *
   * @throws IllegalArgumentException if {@code name} is not one of {@link #compressibleMatrices()}
   */
  Tensor compressibleMatrix(String name);

  /** The name of the parameter that holds matrix {@code name} (itself, or the stacked tensor it slices). */
  String parameterOf(String matrixName);

  /**
   * A single-sequence decoding session over {@code weights}' compressed matrices (and this model's
   * F32 parameters for everything kept uncompressed); close it.
   */
  DecodeSession newSession(QuantizedModel weights);
}
