package dev.iteralite.maven;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.iteralite.backend.Backends;
import dev.iteralite.checkpoint.Checkpoint;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.tensor.DType;
import dev.iteralite.tokenizer.ByteTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.logging.SystemStreamLog;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The goals on the other two model inputs: a llama2.c checkpoint pair and an Itera-Lite checkpoint directory. */
class ModelInputsTest {
  @TempDir Path dir;

  static Path data(String relative) {
    String prop = System.getProperty("itera.data.dir");
    Path root = prop != null && !prop.isBlank() ? Path.of(prop) : Path.of("").toAbsolutePath().resolve("../../shared/data");
    Path f = root.resolve(relative).normalize();
    assumeTrue(Files.isRegularFile(f), "real data " + f + " is absent: skipping (set -Ditera.data.dir)");
    return f;
  }

  GenerateMojo generate() {
    GenerateMojo m = new GenerateMojo();
    m.output = dir.resolve("target/itera/generate.txt").toFile();
    m.maxNewTokens = 20;
    m.topP = 1f;
    m.setLog(new SystemStreamLog() {
      @Override
      public void info(CharSequence content) {}
    });
    return m;
  }

  @Test
  void llama2cPairGeneratesThePublishedStory() throws Exception {
    GenerateMojo m = generate();
    m.llama2cCheckpoint = data("llama2c/stories260K.bin").toFile();
    m.llama2cTokenizer = data("llama2c/tok512.bin").toFile();
    m.prompt = "";
    m.execute();
    String text = Files.readString(m.output.toPath());
    assertTrue(text.startsWith("Once upon a time, there was a little girl"), text);
  }

  @Test
  void checkpointDirectoryIsLoaded() throws Exception {
    IteraLiteConfig cfg = IteraLiteConfig.builder(256, 16, 1).ffnHidden(32).build();
    Path root = dir.resolve("run");
    try (IteraLiteModel model = new IteraLiteModel(Backends.cpu(), cfg, DType.F32, 5)) {
      Checkpoint.save(root, model, ByteTokenizer.instance());
    }
    GenerateMojo m = generate();
    m.checkpoint = root.toFile();
    m.prompt = "abc";
    m.maxNewTokens = 5;
    m.execute();
    assertTrue(Files.readString(m.output.toPath()).startsWith("abc"));
    assertEquals("run", m.modelSpec().defaultName());

    GenerateMojo missing = generate();
    missing.prompt = "x";
    missing.checkpoint = dir.resolve("empty").toFile();
    Files.createDirectories(missing.checkpoint.toPath());
    MojoExecutionException e = assertThrows(MojoExecutionException.class, missing::execute);
    assertTrue(e.getMessage().startsWith("cannot load the model: no checkpoint at"), e.getMessage());
  }
}
