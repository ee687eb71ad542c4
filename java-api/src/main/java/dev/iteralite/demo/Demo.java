package dev.iteralite.demo;

import dev.iteralite.IteraLite;
import dev.iteralite.backend.Backend;
import dev.iteralite.backend.Backends;
import dev.iteralite.checkpoint.Checkpoint;
import dev.iteralite.data.TokenSequence;
import dev.iteralite.eval.EvalResult;
import dev.iteralite.eval.Evaluator;
import dev.iteralite.eval.LanguageModel;
import dev.iteralite.generate.GenerationConfig;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.NativeMemory;
import dev.iteralite.tokenizer.ByteTokenizer;
import dev.iteralite.train.Trainer;
import dev.iteralite.train.TrainingConfig;
import dev.iteralite.train.TrainingListener;
import dev.iteralite.train.TrainingResult;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * A small end-to-end program of the Java API: trains a byte-level Itera-Lite model (Mamba mixers
 * and a mixture-of-experts layer) with the {@link Trainer} on an embedded text or a file given as
 * the first argument with early stopping on the validation loss, checkpoints it, loads the best
 * checkpoint back through {@link IteraLite#load}, and reports validation loss, bits per byte, throughput and a sample.
 */
public final class Demo {
  private static final int STEPS = 200;
  private static final int SEQ_LEN = 64;

  private Demo() {}

  public static void main(String[] args) throws IOException {
    boolean fromFile = args.length > 0 && !args[0].isBlank();
    byte[] text = fromFile ? Files.readAllBytes(Path.of(args[0])) : defaultCorpus();
    int split = text.length * 9 / 10;
    if (text.length - split < SEQ_LEN + 1 || split < SEQ_LEN + 1) {
      throw new IllegalArgumentException("training text must have at least " + 10 * (SEQ_LEN + 1) + " bytes, got " + text.length);
    }
    Backend backend = Backends.select();
    ByteTokenizer tokenizer = ByteTokenizer.instance();
    TokenSequence train = TokenSequence.of(tokenizer.encode(Arrays.copyOfRange(text, 0, split)), tokenizer.vocabSize());
    TokenSequence validation = TokenSequence.of(tokenizer.encode(Arrays.copyOfRange(text, split, text.length)),
        tokenizer.vocabSize());
    System.out.printf(Locale.ROOT, "text: %d bytes (%s), train %d, validation %d%n",
        text.length, fromFile ? args[0] : "embedded default", split, text.length - split);

    IteraLiteConfig modelConfig = IteraLiteConfig.builder(tokenizer.vocabSize(), 64, 2).dState(8).moeEvery(2).experts(4)
        .topK(2).ffnHidden(128).build();
    Path runDir = Files.createTempDirectory("itera-demo-");
    TrainingConfig config = TrainingConfig.builder().seed(7).batchSize(8).seqLen(SEQ_LEN).peakLr(5e-3).warmupSteps(20)
        .totalSteps(STEPS).lrFloorFraction(0.1).weightDecay(0.1).clipNorm(1.0).evalEvery(25).evalBatches(4).earlyStopping(2, 0.01)
        .checkpointDir(runDir.resolve("checkpoints")).metricsCsv(runDir.resolve("metrics.csv")).build();
    long startBytes = NativeMemory.liveBytes();
    double valLoss;
    try (IteraLiteModel model = new IteraLiteModel(backend, modelConfig, DType.F32, 1234);
        Trainer trainer = new Trainer(model, config, train, validation)) {
      System.out.printf(Locale.ROOT, "model: Itera-Lite, %,d parameters (%s)%n", model.parameters().parameterCount(), modelConfig);
      System.out.println("training: " + config);
      TrainingResult result = trainer.tokenizer(tokenizer).listener(new TrainingListener() {
        @Override
        public void onStep(StepReport r) {
          if (r.step() % 25 == 0 || r.step() == 1) {
            System.out.printf(Locale.ROOT, "step %4d/%d  loss %.4f  aux %.4f  grad-norm %.3f  lr %.2e  %,.0f tokens/s  ETA %.0f s%s%n",
                r.step(), r.totalSteps(), r.trainLoss(), r.auxLoss(), r.gradNorm(), r.learningRate(), r.tokensPerSecond(),
                r.etaSeconds(), Double.isNaN(r.valLoss()) ? "" : String.format(Locale.ROOT, "  val %.4f", r.valLoss()));
          }
        }
      }).run();
      System.out.printf(Locale.ROOT, "trained %d steps (%,d tokens) in %.2f s: %.0f tokens/s; %s; best validation loss %.4f at step %d%n",
          result.stepsCompleted(), result.tokensSeen(), result.elapsedSeconds(), result.tokensSeen() / result.elapsedSeconds(),
          result.stopReason() == TrainingResult.StopReason.EARLY_STOPPED ? "early stopping kept the best weights" : "completed",
          result.bestValLoss(), result.bestStep());
      valLoss = evaluate(model, validation).loss();
    }

    // The best checkpoint holds everything needed to use the model: load it back and check it.
    Path best = Checkpoint.resolve(config.checkpointDir(), Checkpoint.Which.BEST);
    try (IteraLite.LoadedModel loaded = IteraLite.load(best, backend)) {
      EvalResult eval = evaluate(loaded.model(), validation);
      System.out.printf(Locale.ROOT, "validation: loss %.4f nats/byte, %.3f bits/byte (uniform guess: 8.000); reloaded"
          + " checkpoint %s: %.4f%n", valLoss, valLoss / Math.log(2), loaded.directory().getFileName(), eval.loss());
      GenerationConfig sampling = GenerationConfig.builder().maxNewTokens(80).temperature(0.8f).topK(40).seed(7).build();
      String sample = loaded.generate("The ", sampling).text();
      System.out.println("sample: The " + sample.replace('\n', ' '));
    }
    deleteTree(runDir);
    System.out.printf(Locale.ROOT, "native memory in use after close: %d bytes above start%n", NativeMemory.liveBytes() - startBytes);
  }

  /** Loss over every validation byte, in windows of the training length. */
  private static EvalResult evaluate(dev.iteralite.model.CausalLm model, TokenSequence validation) {
    return new Evaluator(SEQ_LEN, 8).evaluate(LanguageModel.of(model), validation);
  }

  private static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  private static byte[] defaultCorpus() {
    try (InputStream in = Demo.class.getResourceAsStream("default-corpus.txt")) {
      if (in == null) {
        throw new IllegalStateException("embedded corpus default-corpus.txt missing from the jar");
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
