package dev.iteralite.maven;

import dev.iteralite.backend.Backend;
import dev.iteralite.generate.GenerationConfig;
import dev.iteralite.generate.GenerationResult;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;

/**
 * Generates text from a prompt with the configured model and writes it to {@code output} (and the
 * log).
 *
 * <pre>
 * mvn itera:generate -Ditera.llama2cCheckpoint=stories260K.bin -Ditera.llama2cTokenizer=tok512.bin \
 *     -Ditera.generate.prompt="Once upon a time"
 * </pre>
 */
@Mojo(name = "generate", defaultPhase = LifecyclePhase.NONE, threadSafe = true)
public class GenerateMojo extends AbstractIteraMojo {
  /** Skips this goal only. */
  @Parameter(property = PropertyNames.GENERATE_SKIP, defaultValue = "false")
  boolean skipGenerate;

  /** The prompt; may be empty for a llama2.c model (generation then starts from BOS). */
  @Parameter(property = PropertyNames.GENERATE_PROMPT, defaultValue = "Once upon a time")
  String prompt;

  /** Tokens to generate after the prompt. */
  @Parameter(property = PropertyNames.GENERATE_MAX_NEW_TOKENS, defaultValue = "64")
  int maxNewTokens;

  /** Sampling temperature; 0 is greedy (deterministic). */
  @Parameter(property = PropertyNames.GENERATE_TEMPERATURE, defaultValue = "0")
  float temperature;

  /** Keep only the k most probable tokens when sampling; 0 is off. */
  @Parameter(property = PropertyNames.GENERATE_TOP_K, defaultValue = "0")
  int topK;

  /** Nucleus sampling threshold in (0, 1]; 1 is off. */
  @Parameter(property = PropertyNames.GENERATE_TOP_P, defaultValue = "1")
  float topP;

  /** Seed of the sampler. */
  @Parameter(property = PropertyNames.GENERATE_SEED, defaultValue = "42")
  long samplingSeed;

  /** Where the prompt and the generated text go. */
  @Parameter(property = PropertyNames.GENERATE_OUTPUT, defaultValue = "${project.build.directory}/itera/generate.txt")
  File output;

  @Override
  String goal() {
    return "generate";
  }

  @Override
  boolean goalSkipped() {
    return skipGenerate;
  }

  @Override
  void validateGoal() throws ConfigurationProblem {
    if (prompt == null) {
      throw new ConfigurationProblem("prompt", "no prompt", "set <prompt> (-D" + PropertyNames.GENERATE_PROMPT + "=...)");
    }
    if (output == null) {
      throw new ConfigurationProblem("output", "no output file", "set <output> or leave it at its default");
    }
    try {
      generationConfig();
    } catch (IllegalArgumentException e) {
      String m = e.getMessage();
      String element = m.contains("maxNewTokens") ? "maxNewTokens" : m.contains("temperature") ? "temperature"
          : m.contains("topK") ? "topK" : m.contains("topP") ? "topP" : "prompt";
      throw new ConfigurationProblem(element, m.replaceFirst("^generation: ", ""),
          "set <" + element + "> (-Ditera.generate." + element + "=...) to an allowed value");
    }
  }

  GenerationConfig generationConfig() {
    return GenerationConfig.builder().maxNewTokens(maxNewTokens).temperature(temperature).topK(topK).topP(topP)
        .seed(samplingSeed).build();
  }

  @Override
  void run(Backend backend, ModelSpec spec) throws MojoExecutionException, ConfigurationProblem {
    GenerationResult r;
    long t0 = System.nanoTime();
    try (ModelSpec.LoadedModel m = spec.open(backend, spec.defaultName())) {
      if (m.generator() == null) {
        throw new ConfigurationProblem("checkpoint", "the checkpoint has no tokenizer, so it cannot turn text into tokens",
            "save the checkpoint with its tokenizer");
      }
      try {
        r = m.generator().generate(prompt, generationConfig());
      } catch (IllegalArgumentException e) {
        throw new ConfigurationProblem("prompt", e.getMessage(), "shorten <prompt> or lower <maxNewTokens>");
      }
    } catch (IOException e) {
      throw new MojoExecutionException("cannot load the model: " + e.getMessage(), e);
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    getLog().info(String.format(Locale.ROOT, "generated %d tokens (stop: %s) in %.2f s:", r.generatedTokens().length,
        r.stopReason(), seconds));
    for (String line : (prompt + r.text()).split("\n", -1)) {
      getLog().info("  " + line);
    }
    try {
      Path out = output.toPath().toAbsolutePath();
      Files.createDirectories(out.getParent());
      Files.writeString(out, prompt + r.text() + "\n", StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new MojoExecutionException("cannot write " + output + ": " + e.getMessage(), e);
    }
    getLog().info("Generated text: " + output);
  }
}
