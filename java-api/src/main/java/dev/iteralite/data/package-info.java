/**
 * Training data: readers for plain text, WikiText-2 and TinyStories ({@link dev.iteralite.data.TextCorpus},
 * {@link dev.iteralite.data.WikiText}, {@link dev.iteralite.data.TinyStories}), binary token files that are
 * memory-mapped for training ({@link dev.iteralite.data.TokenFile}, {@link dev.iteralite.data.TokenFiles}),
 * and deterministic, resumable batching ({@link dev.iteralite.data.RandomWindowSampler},
 * {@link dev.iteralite.data.ContiguousStreamSampler}, {@link dev.iteralite.data.TrainValSplit}).
 */
package dev.iteralite.data;
