/**
 * Checkpoints: the safetensors weight format ({@link dev.iteralite.checkpoint.Safetensors},
 * {@link dev.iteralite.checkpoint.SafetensorsDType}) and crash-safe checkpoint folders with a
 * model's weights, configuration, tokenizer and training state ({@link dev.iteralite.checkpoint.Checkpoint},
 * {@link dev.iteralite.checkpoint.TrainingState}).
 */
package dev.iteralite.checkpoint;
