package dev.iteralite.maven;

import java.io.File;

/**
 * One entry of the benchmark goal's {@code <models>} list: a label and exactly one model input,
 * with the same meaning as the goal's top-level elements of the same names.
 *
 * <pre>{@code
 * <models>
 *   <model><name>itera-tiny</name><preset>tiny</preset></model>
 *   <model><name>stories260K</name><llama2cCheckpoint>stories260K.bin</llama2cCheckpoint>
 *          <llama2cTokenizer>tok512.bin</llama2cTokenizer></model>
 * </models>
 * }</pre>
 */
public class ModelParameter {
  /** Label in the report; defaults to the preset or file name. */
  String name;

  /** Itera-Lite preset with random weights: {@code tiny} or {@code small}. */
  String preset;

  /** Seed of the preset's weights. */
  long seed = 42;

  /** A llama2.c checkpoint file. */
  File llama2cCheckpoint;

  /** The llama2.c tokenizer that goes with it. */
  File llama2cTokenizer;

  /** An Itera-Lite checkpoint directory. */
  File checkpoint;

  /** For Maven, which fills the fields from the XML. */
  public ModelParameter() {}

  ModelSpec spec() {
    return new ModelSpec(preset, seed, llama2cCheckpoint, llama2cTokenizer, checkpoint);
  }
}
