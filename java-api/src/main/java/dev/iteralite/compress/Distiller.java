package dev.iteralite.compress;

import dev.iteralite.data.RandomWindowSampler;
import dev.iteralite.data.TokenSequence;
import dev.iteralite.model.CausalLm;
import dev.iteralite.model.DecodeSession;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.optim.AdamW;
import dev.iteralite.optim.LearningRateSchedule;
import dev.iteralite.tensor.Arena;
import java.util.Arrays;
import java.util.Objects;

/**
 * Trains a smaller Itera-Lite student from a teacher {@link CausalLm} (Itera-Lite or Transformer,
 * same vocabulary) with the {@link DistillationLoss}: AdamW, warm-up and cosine decay, gradient
 * clipping, random windows; the teacher only runs forward. {@link #distill} measures teacher and
 * student before and after: parameters, loss on evaluation tokens, KL to the teacher and greedy
 * decode speed through each model's {@link DecodeSession}.
 */
public final class Distiller {
  private Distiller() {}

  /**
   * Distillation hyper-parameters.
   *
   * @param alpha weight of the hard-target cross-entropy, in [0, 1] (1 - alpha on the soft KL term)
   * @param temperature softening temperature tau, > 0
   * @param steps optimiser steps, >= 1
   * @param batchSize windows per step
   * @param seqLen tokens per window
   * @param peakLr learning rate after warm-up
   * @param warmupSteps linear warm-up, in [0, steps)
   * @param weightDecay AdamW decoupled weight decay
   * @param clipNorm global gradient-norm clipping (0 = none)
   * @param seed seed of the window order
   */
  public record Config(double alpha, double temperature, long steps, int batchSize, int seqLen, double peakLr,
      long warmupSteps, double weightDecay, double clipNorm, long seed) {
    /** Validates every field; messages name it. */
    public Config {
      if (!(alpha >= 0 && alpha <= 1)) {
        throw new IllegalArgumentException("Distiller.Config: alpha must be in [0, 1], got " + alpha);
      }
      if (!(temperature > 0) || Double.isInfinite(temperature)) {
        throw new IllegalArgumentException("Distiller.Config: temperature must be finite and > 0, got " + temperature);
      }
      if (steps < 1 || batchSize < 1 || seqLen < 1) {
        throw new IllegalArgumentException("Distiller.Config: steps, batchSize and seqLen must be >= 1, got " + steps
            + ", " + batchSize + ", " + seqLen);
      }
      if (!(peakLr > 0) || Double.isInfinite(peakLr)) {
        throw new IllegalArgumentException("Distiller.Config: peakLr must be finite and > 0, got " + peakLr);
      }
      if (warmupSteps < 0 || warmupSteps >= steps) {
        throw new IllegalArgumentException("Distiller.Config: warmupSteps must be in [0, steps=" + steps + "), got "
            + warmupSteps);
      }
      if (!(weightDecay >= 0) || !(clipNorm >= 0) || Double.isInfinite(weightDecay) || Double.isInfinite(clipNorm)) {
        throw new IllegalArgumentException("Distiller.Config: weightDecay and clipNorm must be finite and >= 0, got "
            + weightDecay + ", " + clipNorm);
      }
    }

    /** alpha 0.5, tau 2, batch 8 x 32 tokens, lr 3e-3 with 10% warm-up, weight decay 0.1, clipping at 1. */
    public static Config defaults(long steps) {
      return new Config(0.5, 2.0, steps, 8, 32, 3e-3, Math.max(0, Math.min(steps - 1, steps / 10)), 0.1, 1.0, 1);
    }
  }

  /**
   * Teacher against student (before and after distillation).
   *
   * @param teacherLoss mean next-token loss (nats) of the teacher on the evaluation tokens
   * @param studentLossBefore the student's, before distillation
   * @param studentLossAfter the student's, after
   * @param klBefore mean KL(teacher || student) at temperature 1 on the evaluation tokens, before
   * @param klAfter the same after
   * @param teacherDecodeTokensPerSecond greedy decode speed of the teacher (one sequence)
   * @param studentDecodeTokensPerSecond the student's
   * @param seconds wall time of the distillation loop
   */
  public record Report(long teacherParameters, long studentParameters, double teacherLoss, double studentLossBefore,
      double studentLossAfter, double klBefore, double klAfter, double teacherDecodeTokensPerSecond,
      double studentDecodeTokensPerSecond, long steps, double seconds) {}

  /**
   * Distils {@code teacher} into {@code student} in place and measures both.
   *
   * @param train training tokens
   * @param evaluation tokens for the losses and KL (contiguous windows of {@code config.seqLen()})
   * @throws IllegalArgumentException if the vocabularies differ or the data do not fit
   */
  public static Report distill(CausalLm teacher, IteraLiteModel student, TokenSequence train, TokenSequence evaluation,
      Config config) {
    Objects.requireNonNull(teacher, "teacher");
    Objects.requireNonNull(student, "student");
    Objects.requireNonNull(train, "train");
    Objects.requireNonNull(evaluation, "evaluation");
    Objects.requireNonNull(config, "config");
    if (teacher.vocabSize() != student.vocabSize()) {
      throw new IllegalArgumentException("distillation: teacher vocabulary " + teacher.vocabSize()
          + " differs from the student's " + student.vocabSize() + "; both must use the same tokenizer");
    }
    if (config.seqLen() > teacher.maxSequenceLength()) {
      throw new IllegalArgumentException("distillation: seqLen " + config.seqLen() + " exceeds the teacher's maximum "
          + teacher.maxSequenceLength());
    }
    for (TokenSequence s : new TokenSequence[] {train, evaluation}) {
      if (s.vocabSize() > student.vocabSize()) {
        throw new IllegalArgumentException("distillation: token vocabulary " + s.vocabSize() + " exceeds the models' "
            + student.vocabSize());
      }
    }
    if (train.size() < config.seqLen() + 1L || evaluation.size() < 2) {
      throw new IllegalArgumentException("distillation: need >= seqLen + 1 = " + (config.seqLen() + 1)
          + " training tokens and >= 2 evaluation tokens, got " + train.size() + " and " + evaluation.size());
    }
    int window = config.seqLen();
    double teacherLoss = ModelSurgery.loss(teacher, evaluation, window);
    double before = ModelSurgery.loss(student, evaluation, window);
    double klBefore = meanKl(teacher, student, evaluation, window, 1.0);
    long t0 = System.nanoTime();
    RandomWindowSampler sampler = new RandomWindowSampler(train, config.batchSize(), config.seqLen(), config.seed());
    LearningRateSchedule schedule = LearningRateSchedule.warmupCosine(config.peakLr(), config.warmupSteps(),
        config.steps(), 0.1);
    int n = config.batchSize() * config.seqLen();
    int[] in = new int[n];
    int[] tg = new int[n];
    try (AdamW opt = new AdamW(student.backend(), student.parameters(),
        new AdamW.Config(0.9, 0.95, 1e-8, config.weightDecay(), config.clipNorm()))) {
      for (long step = 0; step < config.steps(); step++) {
        sampler.nextInto(in, tg);
        float[] teacherLogits = ModelSurgery.logits(teacher, in, config.batchSize());
        student.parameters().zeroGrads(student.backend());
        double loss;
        try (Arena arena = Arena.open()) {
          loss = student.forwardBackward(in, config.batchSize(),
              new DistillationLoss(student.backend(), teacherLogits, tg, config.alpha(), config.temperature()), arena);
        }
        if (!Double.isFinite(loss)) {
          throw new IllegalStateException("distillation: loss is " + loss + " at step " + (step + 1)
              + "; no update was applied: lower peakLr or the temperature");
        }
        opt.step(schedule.at(step), 1.0);
      }
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    double after = ModelSurgery.loss(student, evaluation, window);
    double klAfter = meanKl(teacher, student, evaluation, window, 1.0);
    int[] prompt = new int[Math.min(16, (int) evaluation.size())];
    evaluation.read(0, prompt, 0, prompt.length);
    int decode = Math.max(1, Math.min(128, teacher.maxSequenceLength() - prompt.length - 1));
    double teacherTps = decodeTokensPerSecond(teacher, prompt, decode);
    double studentTps = decodeTokensPerSecond(student, prompt, decode);
    return new Report(teacher.parameters().parameterCount(), student.parameters().parameterCount(), teacherLoss, before,
        after, klBefore, klAfter, teacherTps, studentTps, config.steps(), seconds);
  }

  /**
   * Mean KL(softmax(teacher / tau) || softmax(student / tau)) per position over contiguous windows
   * of {@code window} tokens of {@code tokens}.
   */
  public static double meanKl(CausalLm teacher, CausalLm student, TokenSequence tokens, int window, double tau) {
    if (teacher.vocabSize() != student.vocabSize()) {
      throw new IllegalArgumentException("KL: the vocabularies differ: " + teacher.vocabSize() + " vs " + student.vocabSize());
    }
    if (window < 1 || tokens.size() < 1) {
      throw new IllegalArgumentException("KL: need window >= 1 and at least one token");
    }
    int v = teacher.vocabSize();
    double sum = 0;
    long count = 0;
    int[] ids = ModelSurgery.toArray(tokens);
    for (int start = 0; start < ids.length; start += window) {
      int[] w = Arrays.copyOfRange(ids, start, Math.min(ids.length, start + window));
      float[] a = ModelSurgery.logits(teacher, w, 1);
      float[] b = ModelSurgery.logits(student, w, 1);
      for (int r = 0; r < w.length; r++) {
        sum += kl(a, b, r * v, v, tau);
        count++;
      }
    }
    return sum / count;
  }

  private static double kl(float[] t, float[] s, int o, int v, double tau) {
    double mt = Double.NEGATIVE_INFINITY;
    double ms = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < v; j++) {
      mt = Math.max(mt, t[o + j] / tau);
      ms = Math.max(ms, s[o + j] / tau);
    }
    double zt = 0;
    double zs = 0;
    for (int j = 0; j < v; j++) {
      zt += Math.exp(t[o + j] / tau - mt);
      zs += Math.exp(s[o + j] / tau - ms);
    }
    double lt = mt + Math.log(zt);
    double ls = ms + Math.log(zs);
    double kl = 0;
    for (int j = 0; j < v; j++) {
      double logP = t[o + j] / tau - lt;
      kl += Math.exp(logP) * (logP - (s[o + j] / tau - ls));
    }
    return Math.max(0, kl);
  }

  /**
   * Greedy decoding speed of one sequence: prefill {@code prompt}, then {@code tokens} single-token
   * steps, timed (the steps only), after one untimed warm-up step.
   */
  public static double decodeTokensPerSecond(CausalLm model, int[] prompt, int tokens) {
    if (prompt == null || prompt.length == 0 || tokens < 1) {
      throw new IllegalArgumentException("decode speed: need a non-empty prompt and tokens >= 1");
    }
    try (DecodeSession s = model.newSession()) {
      float[] logits = s.prefill(prompt);
      int next = argmax(logits);
      logits = s.step(next);
      long t0 = System.nanoTime();
      for (int i = 0; i < tokens; i++) {
        next = argmax(logits);
        logits = s.step(next);
      }
      return tokens / ((System.nanoTime() - t0) / 1e9);
    }
  }

  private static int argmax(float[] x) {
    int best = 0;
    for (int i = 1; i < x.length; i++) {
      if (x[i] > x[best]) {
        best = i;
      }
    }
    return best;
  }
}
