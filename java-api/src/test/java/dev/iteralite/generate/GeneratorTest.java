package dev.iteralite.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.iteralite.backend.Backends;
import dev.iteralite.model.Llama2cCheckpoint;
import dev.iteralite.model.Transformer;
import dev.iteralite.tokenizer.Llama2cTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Generation with stories260K: stop sequences, streaming, max tokens, seeded sampling. */
class GeneratorTest {
  private static Path data(String relative) {
    String prop = System.getProperty("itera.data.dir");
    Path dir;
    if (prop != null && !prop.isBlank()) {
      dir = Path.of(prop);
    } else {
      Path root = Path.of("").toAbsolutePath();
      for (Path p = root; p != null; p = p.getParent()) {
        if (Files.isRegularFile(p.resolve("pom.xml"))) {
          root = p;
        }
      }
      dir = root.resolve("../shared/data").normalize();
    }
    Path f = dir.resolve(relative);
    assumeTrue(Files.isRegularFile(f), "real data " + f + " is absent: skipping (set -Ditera.data.dir or provide ../shared/data)");
    return f;
  }

  private interface Body {
    void run(Generator g) throws Exception;
  }

  private static void withModel(Body body) throws Exception {
    Path ckpt = data("llama2c/stories260K.bin");
    Llama2cTokenizer tok = Llama2cTokenizer.fromLlama2c(data("llama2c/tok512.bin"));
    try (Llama2cCheckpoint c = Llama2cCheckpoint.load(ckpt)) {
      body.run(new Generator(new Transformer(Backends.cpu(), c.config(), c.weights()), tok));
    }
  }

  @Test
  void stopSequenceEndsTextBeforeIt() throws Exception {
    withModel(g -> {
      StringBuilder streamed = new StringBuilder();
      GenerationResult r = g.generate("", GenerationConfig.builder().stopSequences(List.of(" She", "zzz")).build(),
          (t, p) -> streamed.append(p));
      assertEquals("Once upon a time, there was a little girl named Lily.", r.text());
      assertEquals(r.text(), streamed.toString(), "nothing of the stop sequence was streamed");
      assertEquals(GenerationResult.StopReason.STOP_SEQUENCE, r.stopReason());
    });
  }

  @Test
  void maxTokensAndStreamingTokens() throws Exception {
    withModel(g -> {
      List<Integer> tokens = new ArrayList<>();
      GenerationResult r = g.generate("", GenerationConfig.greedy(7), (t, p) -> tokens.add(t));
      assertEquals(7, r.generatedTokens().length);
      assertEquals(GenerationResult.StopReason.MAX_TOKENS, r.stopReason());
      assertEquals(7, tokens.size());
      for (int i = 0; i < 7; i++) {
        assertEquals(r.generatedTokens()[i], tokens.get(i));
      }
      assertEquals("Once upon a time, there was", r.text());
      assertArrayEquals(new int[] {Llama2cTokenizer.BOS}, r.promptTokens());
    });
  }

  @Test
  void seededSamplingIsReproducible() throws Exception {
    withModel(g -> {
      GenerationConfig cfg = GenerationConfig.builder().temperature(1f).topP(0.9f).seed(11).maxNewTokens(60).build();
      GenerationResult a = g.generate("Once upon a time", cfg);
      GenerationResult b = g.generate("Once upon a time", cfg);
      assertArrayEquals(a.generatedTokens(), b.generatedTokens());
      assertEquals(a.text(), b.text());
      GenerationResult c = g.generate("Once upon a time", GenerationConfig.builder().temperature(1f).topP(0.9f).seed(12).maxNewTokens(60).build());
      assertNotEquals(a.text(), c.text());
      // top-k = 1 at any temperature is greedy.
      GenerationResult k1 = g.generate("", GenerationConfig.builder().temperature(0.9f).topK(1).seed(5).maxNewTokens(40).build());
      assertArrayEquals(g.generate("", GenerationConfig.greedy(40)).generatedTokens(), k1.generatedTokens());
      assertTrue(a.text().length() > 0);
    });
  }

  @Test
  void tooLongPromptIsRejected() throws Exception {
    withModel(g -> {
      String longPrompt = "the dog ".repeat(600);
      assertThrows(IllegalArgumentException.class, () -> g.generate(longPrompt, GenerationConfig.greedy(5)));
      assertThrows(IllegalArgumentException.class, () -> g.generate(null, GenerationConfig.greedy(5)));
    });
  }
}
