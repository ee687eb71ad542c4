package dev.iteralite.nn;

import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.Tensor;
import java.util.List;

/**
 * A differentiable building block: a forward/backward pair over flat row-major buffers.
 *
 * <p>The contract, shared by every layer:
 *
 * <ul>
 *   <li>{@link #forward} computes the output into a tensor allocated in the caller's step {@link
 *       Arena} and saves in the layer whatever {@link #backward} needs (references to inputs and
 *       small statistics such as rstd, also arena-allocated). The saved state belongs to the
 *       latest forward call, so the arena must stay open until backward has run.
 *   <li>{@link #backward} receives dLoss/dOutput of that latest forward, returns dLoss/dInput (a
 *       new arena tensor, or {@code null} for non-differentiable inputs such as token ids) and
 *       ACCUMULATES parameter gradients into {@link Parameter#grad()}.
 *   <li>Inputs are rank-2 {@code [rows, features]} (batch and time flattened into rows).
 * </ul>
 */
public interface Layer {
  /** Computes the output for {@code input}; see the class contract. */
  Tensor forward(Tensor input, Arena arena);

  /** Back-propagates through the latest forward; see the class contract. */
  Tensor backward(Tensor gradOutput, Arena arena);

  /** The parameters this layer owns (possibly none), in declaration order. */
  List<Parameter> parameters();
}
