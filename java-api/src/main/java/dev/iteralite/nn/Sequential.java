package dev.iteralite.nn;

import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/** Layers applied in order; backward runs them in reverse. */
public final class Sequential implements Layer {
  private final List<Layer> layers;

  public Sequential(List<Layer> layers) {
    if (layers.isEmpty()) {
      throw new IllegalArgumentException("Sequential needs at least one layer");
    }
    this.layers = List.copyOf(layers);
  }

  public List<Layer> layers() {
    return layers;
  }

  @Override
  public Tensor forward(Tensor x, Arena arena) {
    Tensor h = x;
    for (Layer l : layers) {
      h = l.forward(h, arena);
    }
    return h;
  }

  @Override
  public Tensor backward(Tensor dy, Arena arena) {
    Tensor g = dy;
    for (int i = layers.size() - 1; i >= 0 && g != null; i--) {
      g = layers.get(i).backward(g, arena);
    }
    return g;
  }

  @Override
  public List<Parameter> parameters() {
    List<Parameter> all = new ArrayList<>();
    for (Layer l : layers) {
      all.addAll(l.parameters());
    }
    return all;
  }
}
