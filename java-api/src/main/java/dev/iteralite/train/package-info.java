/**
 * Training: {@link dev.iteralite.train.Trainer} runs AdamW with warm-up and cosine decay, clipping,
 * gradient accumulation, periodic evaluation, early stopping, a CSV metrics log and atomic
 * checkpoints over any {@link dev.iteralite.model.CausalLm}, configured by a validated, JSON-backed
 * {@link dev.iteralite.train.TrainingConfig}; runs resume bit for bit from their last checkpoint.
 */
package dev.iteralite.train;
