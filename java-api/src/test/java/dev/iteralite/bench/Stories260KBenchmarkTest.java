package dev.iteralite.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backends;
import dev.iteralite.data.TokenSequence;
import dev.iteralite.model.Llama2cCheckpoint;
import dev.iteralite.model.Transformer;
import dev.iteralite.testing.TestData;
import dev.iteralite.tokenizer.Llama2cTokenizer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** A real model (llama2.c's stories260K) on real text (TinyStories validation); skips without ../shared/data. */
class Stories260KBenchmarkTest {
  @Test
  void benchmarksTheRealModel() throws Exception {
    var ckpt = TestData.require("llama2c/stories260K.bin");
    Llama2cTokenizer tok = Llama2cTokenizer.fromLlama2c(TestData.require("llama2c/tok512.bin"));
    byte[] text = Arrays.copyOf(Files.readAllBytes(TestData.require("tinystories/tinystories_val.txt")), 6000);
    String s = new String(text, StandardCharsets.UTF_8);
    byte[] clean = s.substring(0, s.lastIndexOf(' ')).getBytes(StandardCharsets.UTF_8);
    int[] ids = tok.encode(clean, true, false);
    try (Llama2cCheckpoint c = Llama2cCheckpoint.load(ckpt)) {
      Transformer model = new Transformer(Backends.cpu(), c.config(), c.weights());
      BenchmarkTarget target = BenchmarkTarget.of("stories260K", model);
      ModelBenchmark.Options o = new ModelBenchmark.Options(32, 32, 1, 3, 1, 256, 4, 100_000);
      ModelResult r = new ModelBenchmark(o).run(target, TokenSequence.of(ids, 512), clean.length, m -> {});
      assertEquals(c.config().parameterCount(), r.params());
      assertEquals(FlopCounter.transformer(c.config(), 64), r.flopsPerToken());
      assertTrue(r.decodeTokensPerSec() > 0 && r.prefillTokensPerSec() > 0);
      // llama2.c reports a validation loss of about 1.3 nats for this model on TinyStories.
      assertTrue(r.perplexity() > 1.5 && r.perplexity() < 8, "perplexity " + r.perplexity());
      assertTrue(r.bitsPerByte() > 0.2 && r.bitsPerByte() < 2, "bits per byte " + r.bitsPerByte());
      IllegalArgumentException tooLong = assertThrows(IllegalArgumentException.class,
          () -> new ModelBenchmark(o.withPromptTokens(500)).run(target));
      assertTrue(tooLong.getMessage().contains("exceeds the context"), tooLong.getMessage());
    }
  }
}
