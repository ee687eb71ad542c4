package dev.iteralite.compress;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backend;
import dev.iteralite.backend.Backends;
import dev.iteralite.data.TokenSequence;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.model.TransformerConfig;
import dev.iteralite.model.TransformerModel;
import dev.iteralite.nn.GradientChecker;
import dev.iteralite.nn.Parameter;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class DistillerTest {
  private static final IteraLiteConfig CHECK = IteraLiteConfig.builder(11, 8, 2).dState(4).moeEvery(2).experts(3).topK(2)
      .ffnHidden(12).auxWeights(0.05, 0.01).build();

  private static float[] randomLogits(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = (float) (3 * r.nextGaussian());
    }
    return x;
  }

  @Test
  void float64GradientOfTheDistillationObjectiveMatchesCentralDifferences() {
    Backend ref = Backends.reference();
    int batch = 2;
    int len = 5;
    int[] tokens = new SplittableRandom(3).ints(batch * len, 0, 11).toArray();
    int[] targets = new SplittableRandom(4).ints(batch * len, 0, 11).toArray();
    targets[3] = -1;
    float[] teacher = randomLogits(batch * len * 11, 5);
    try (IteraLiteModel m = new IteraLiteModel(ref, CHECK, DType.F64, 7)) {
      DistillationLoss kd = new DistillationLoss(ref, teacher, targets, 0.3, 2.5);
      m.parameters().zeroGrads(ref);
      double total;
      try (Arena arena = Arena.open()) {
        total = m.forwardBackward(tokens, batch, kd, arena);
      }
      assertEquals(total - m.lastAuxLoss(), m.objectiveLoss(tokens, batch, kd), 1e-12);
      assertEquals(0.3 * kd.lastCrossEntropy() + 0.7 * 6.25 * kd.lastKl(), m.objectiveLoss(tokens, batch, kd), 1e-12);
      GradientChecker checker = new GradientChecker().step(1e-6).tolerances(1e-5, 1e-8).maxElementsPerTensor(12);
      for (String name : List.of("embed.weight", "final_norm.weight", "blocks.0.mixer.in_proj.weight",
          "blocks.0.mixer.A_log", "blocks.1.moe.router.weight", "blocks.1.moe.w2")) {
        Parameter p = m.parameters().get(name);
        GradientChecker.Result r = checker.checkScalar(name, p.value(), p.grad().toDoubleArray(),
            () -> m.objectiveLoss(tokens, batch, kd) + m.lastAuxLoss());
        assertTrue(r.passed(), r.toString());
        assertTrue(r.checked() > 0);
      }
    }
  }

  @Test
  void hardTargetsAloneReproduceTheFusedCrossEntropyPathAndItsGradients() {
    Backend ref = Backends.reference();
    int[] tokens = new SplittableRandom(8).ints(12, 0, 11).toArray();
    int[] targets = new SplittableRandom(9).ints(12, 0, 11).toArray();
    try (IteraLiteModel m = new IteraLiteModel(ref, CHECK, DType.F64, 2)) {
      m.parameters().zeroGrads(ref);
      double ce;
      try (Arena arena = Arena.open()) {
        ce = m.forwardBackward(tokens, targets, 2, arena);
      }
      double[] fused = m.parameters().grads().toDoubleArray();
      m.parameters().zeroGrads(ref);
      double kd;
      try (Arena arena = Arena.open()) {
        // alpha = 1: the teacher's logits have no influence, whatever they are.
        kd = m.forwardBackward(tokens, 2, new DistillationLoss(ref, randomLogits(12 * 11, 1), targets, 1.0, 3.0), arena);
      }
      assertEquals(ce, kd, 1e-12);
      double[] mine = m.parameters().grads().toDoubleArray();
      for (int i = 0; i < mine.length; i++) {
        // The fused kernel scales by 1/n rounded to float (relative 3e-8); this path scales in double.
        assertEquals(fused[i], mine[i], 1e-7 * (1 + Math.abs(fused[i])), "gradient element " + i);
      }
      // alpha = 0 against the model's own logits: KL 0 and no gradient through the head.
      float[] own = m.logits(tokens, 2);
      DistillationLoss self = new DistillationLoss(ref, own, targets, 0.0, 2.0);
      assertEquals(0, m.objectiveLoss(tokens, 2, self), 1e-6);
    }
    assertThrows(IllegalArgumentException.class, () -> new DistillationLoss(ref, new float[22], new int[2], 1.5, 1));
    assertThrows(IllegalArgumentException.class, () -> new DistillationLoss(ref, new float[22], new int[2], 0.5, 0));
    assertThrows(IllegalArgumentException.class, () -> new DistillationLoss(ref, new float[21], new int[2], 0.5, 1));
    try (IteraLiteModel m = new IteraLiteModel(ref, CHECK, DType.F64, 2)) {
      // A teacher with another vocabulary size is caught when shapes meet.
      int[] t2 = {1, 2};
      assertThrows(IllegalArgumentException.class,
          () -> m.objectiveLoss(t2, 1, new DistillationLoss(ref, new float[2 * 12], t2, 0.5, 1)));
    }
  }

  @Test
  void aTransformerTeacherTeachesAnIteraLiteStudent() {
    TransformerConfig tc = TransformerConfig.builder(40, 32, 2).heads(4).seqLen(64).build();
    int[] ids = new SplittableRandom(6).ints(3000, 0, 40).toArray();
    TokenSequence seq = TokenSequence.of(ids, 40);
    TokenSequence eval = TokenSequence.of(Arrays.copyOf(ids, 256), 40);
    try (TransformerModel teacher = new TransformerModel(Backends.select(), tc, DType.F32, 2);
        IteraLiteModel student = new IteraLiteModel(Backends.select(), IteraLiteConfig.builder(40, 16, 1).dState(4).build(),
            DType.F32, 5)) {
      // Pure soft targets (alpha 0): the student can only learn the teacher's distribution.
      Distiller.Report r = Distiller.distill(teacher, student, seq, eval, new Distiller.Config(0.0, 1.0, 60, 4, 32, 1e-2, 5,
          0.0, 1.0, 2));
      assertTrue(r.klAfter() < 0.5 * r.klBefore(), r.toString());
      assertThrows(IllegalArgumentException.class, () -> Distiller.distill(teacher, student, seq, eval,
          new Distiller.Config(0.5, 1.0, 10, 2, 65, 1e-3, 1, 0.0, 1.0, 2)));
    }
  }

  @Test
  void distillingATrainedTeacherIntoASmallerStudentOnWikiText() {
    TokenSequence train = TrainedFixture.tokens(TrainedFixture.trainBytes());
    TokenSequence eval = TrainedFixture.tokens(Arrays.copyOfRange(TrainedFixture.validBytes(), 20_000, 24_096));
    IteraLiteConfig sc = IteraLiteConfig.builder(256, 32, 1).dState(8).ffnHidden(48).build();
    Distiller.Config dc = new Distiller.Config(0.5, 2.0, 120, 8, 32, 5e-3, 10, 0.1, 1.0, 3);
    try (IteraLiteModel teacher = TrainedFixture.model();
        IteraLiteModel student = new IteraLiteModel(Backends.select(), sc, DType.F32, 11)) {
      Distiller.Report r = Distiller.distill(teacher, student, train, eval, dc);
      System.out.printf(Locale.ROOT, "distillation (byte Itera-Lite on WikiText-2): teacher %,d params loss %.4f, %.0f tok/s;"
          + " student %,d params loss %.4f -> %.4f, KL %.4f -> %.4f, %.0f tok/s; %d steps in %.1f s%n",
          r.teacherParameters(), r.teacherLoss(), r.teacherDecodeTokensPerSecond(), r.studentParameters(),
          r.studentLossBefore(), r.studentLossAfter(), r.klBefore(), r.klAfter(), r.studentDecodeTokensPerSecond(),
          r.steps(), r.seconds());
      assertTrue(r.studentParameters() * 2 < r.teacherParameters());
      assertTrue(r.klAfter() < 0.5 * r.klBefore(), "the student must move toward the teacher: " + r);
      assertTrue(r.studentLossAfter() < r.studentLossBefore() - 1.0, r.toString());
      assertTrue(r.teacherDecodeTokensPerSecond() > 0 && r.studentDecodeTokensPerSecond() > 0);
      assertEquals(r.klAfter(), Distiller.meanKl(teacher, student, eval, 32, 1.0), 1e-9);
      IteraLiteConfig other = IteraLiteConfig.builder(200, 32, 1).build();
      try (IteraLiteModel wrongVocab = new IteraLiteModel(Backends.select(), other, DType.F32, 1)) {
        assertThrows(IllegalArgumentException.class, () -> Distiller.distill(teacher, wrongVocab, train, eval, dc));
      }
    }
    assertThrows(IllegalArgumentException.class, () -> new Distiller.Config(0.5, 2.0, 10, 8, 32, 5e-3, 10, 0.1, 1.0, 3));
    assertThrows(IllegalArgumentException.class, () -> new Distiller.Config(-0.1, 2.0, 10, 8, 32, 5e-3, 1, 0.1, 1.0, 3));
    assertArrayEquals(new double[] {0.5, 2.0}, new double[] {Distiller.Config.defaults(100).alpha(),
        Distiller.Config.defaults(100).temperature()});
  }
}
