package dev.iteralite.serve;

import static dev.iteralite.serve.ServerTestSupport.get;
import static dev.iteralite.serve.ServerTestSupport.json;
import static dev.iteralite.serve.ServerTestSupport.post;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.iteralite.backend.Backends;
import dev.iteralite.checkpoint.Checkpoint;
import dev.iteralite.generate.GenerationConfig;
import dev.iteralite.generate.Generator;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.model.Llama2cCheckpoint;
import dev.iteralite.model.Transformer;
import dev.iteralite.tensor.DType;
import dev.iteralite.testing.TestData;
import dev.iteralite.tokenizer.ByteTokenizer;
import dev.iteralite.tokenizer.Llama2cTokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line: presets, a saved checkpoint, llama2.c's stories260K, and argument errors. */
class ServeMainTest {
  private static void closeAll(List<AutoCloseable> owned) throws Exception {
    for (AutoCloseable c : owned) {
      c.close();
    }
  }

  @Test
  void presetAndCheckpointModelsAreServedUnderTheirNames(@TempDir Path tmp) throws Exception {
    IteraLiteConfig c = IteraLiteConfig.builder(256, 32, 2).build();
    String expected;
    try (IteraLiteModel m = new IteraLiteModel(Backends.cpu(), c, DType.F32, 5)) {
      Checkpoint.save(tmp.resolve("run"), m, ByteTokenizer.instance());
      expected = new Generator(m, ByteTokenizer.instance()).generate("abc", GenerationConfig.greedy(10)).text();
    }
    List<AutoCloseable> owned = new ArrayList<>();
    try (InferenceServer s = ServeMain.start(new String[] {"--preset", "tiny", "--checkpoint", tmp.resolve("run").toString(),
        "--name", "saved", "--port", "0", "--max-concurrent", "1", "--queue", "3", "--max-tokens", "64"}, owned)) {
      JsonNode models = json(get(s, "/v1/models")).get("data");
      assertEquals("itera-lite-tiny", models.get(0).get("id").asText());
      assertEquals("saved", models.get(1).get("id").asText());
      JsonNode h = json(get(s, "/health"));
      assertEquals(1, h.get("max_concurrent").asInt());
      assertEquals(3, h.get("queue_capacity").asInt());
      assertEquals(10, json(post(s, "/generate", "{\"prompt\":\"x\",\"max_tokens\":10}")).get("generated_tokens").asInt(),
          "the first model is the default");
      JsonNode r = json(post(s, "/generate", "{\"model\":\"saved\",\"prompt\":\"abc\",\"max_tokens\":10,\"temperature\":0}"));
      assertEquals(expected, r.get("text").asText(), "the checkpoint's weights are served");
      assertEquals(400, post(s, "/generate", "{\"prompt\":\"x\",\"max_tokens\":65}").statusCode());
    } finally {
      closeAll(owned);
    }
  }

  @Test
  void compressedIteraLiteIsServedThroughTheQuantisedKernels(@TempDir Path tmp) throws Exception {
    IteraLiteConfig c = IteraLiteConfig.builder(256, 64, 2).dtRank(4).ffnHidden(128).build();
    String expected;
    try (IteraLiteModel m = new IteraLiteModel(Backends.cpu(), c, DType.F32, 5);
        dev.iteralite.model.QuantizedModel q = dev.iteralite.model.QuantizedModel.quantize(m,
            dev.iteralite.quant.WeightFormat.Q8_0)) {
      Checkpoint.save(tmp.resolve("run"), m, ByteTokenizer.instance());
      expected = new Generator(q, ByteTokenizer.instance()).generate("abc", GenerationConfig.greedy(12)).text();
    }
    List<AutoCloseable> owned = new ArrayList<>();
    try (InferenceServer s = ServeMain.start(new String[] {"--checkpoint", tmp.resolve("run").toString(), "--name", "small",
        "--format", "q8_0", "--port", "0"}, owned)) {
      assertEquals("small-q8_0", json(get(s, "/v1/models")).get("data").get(0).get("id").asText());
      JsonNode r = json(post(s, "/generate", "{\"prompt\":\"abc\",\"max_tokens\":12,\"temperature\":0}"));
      assertEquals(expected, r.get("text").asText(), "the Q8_0 weights are what is served");
    } finally {
      closeAll(owned);
    }
    assertThrows(IllegalArgumentException.class, () -> ServeMain.start(new String[] {"--format", "q8_0", "--port", "0"}, owned));
    assertThrows(IllegalArgumentException.class, () -> ServeMain.start(new String[] {"--preset", "tiny", "--format", "q9", "--port", "0"},
        owned));
  }

  @Test
  void llama2cStoriesIsServedWithItsTokenizer() throws Exception {
    Path model = TestData.require("llama2c/stories260K.bin");
    Path tok = TestData.require("llama2c/tok512.bin");
    String expected;
    try (Llama2cCheckpoint ck = Llama2cCheckpoint.load(model)) {
      expected = new Generator(new Transformer(Backends.cpu(), ck.config(), ck.weights()), Llama2cTokenizer.fromLlama2c(tok))
          .generate("Once upon a time", GenerationConfig.greedy(40)).text();
    }
    List<AutoCloseable> owned = new ArrayList<>();
    try (InferenceServer s = ServeMain.start(new String[] {"--llama2c", model.toString(), tok.toString(), "--port", "0"}, owned)) {
      JsonNode m = json(get(s, "/v1/models")).get("data").get(0);
      assertEquals("stories260K", m.get("id").asText());
      assertEquals("transformer", m.get("architecture").asText());
      assertEquals(512, m.get("max_sequence_length").asInt());
      JsonNode r = json(post(s, "/v1/completions", "{\"prompt\":\"Once upon a time\",\"max_tokens\":40,\"temperature\":0}"));
      assertEquals(expected, r.get("choices").get(0).get("text").asText());
      assertTrue(expected.startsWith(","), expected);
      // Prompt plus max_tokens beyond the 512-token context: generation stops at the context's end.
      JsonNode full = json(post(s, "/generate", "{\"prompt\":\"Once\",\"max_tokens\":2000,\"temperature\":0,\"seed\":1}"));
      assertTrue(List.of("sequence_length", "end_of_text").contains(full.get("stop_reason").asText()), full.toString());
      assertEquals(400, post(s, "/generate", "{\"prompt\":\"" + "the dog ".repeat(600) + "\"}").statusCode());
    } finally {
      closeAll(owned);
    }
  }

  @Test
  void badArgumentsAreExplained() {
    List<AutoCloseable> owned = new ArrayList<>();
    for (String[] args : new String[][] {{}, {"--port", "0"}, {"--preset", "huge"}, {"--preset", "tiny", "--port", "x"},
        {"--preset", "tiny", "--bogus"}, {"--name", "a"}, {"--llama2c", "/nonexistent.bin", "/nonexistent-tok.bin"},
        {"--preset", "tiny", "--max-concurrent", "0"}, {"--preset", "tiny", "--port"}}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ServeMain.start(args, owned),
          String.join(" ", args));
      assertTrue(!e.getMessage().isBlank());
    }
    assertTrue(owned.size() <= 1);
    owned.forEach(o -> {
      try {
        o.close();
      } catch (Exception ignored) {
        // test cleanup
      }
    });
  }
}
