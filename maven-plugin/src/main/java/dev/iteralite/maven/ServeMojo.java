package dev.iteralite.maven;

import dev.iteralite.backend.Backend;
import dev.iteralite.serve.InferenceServer;
import dev.iteralite.serve.ServerConfig;
import java.io.IOException;
import java.time.Duration;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;

/**
 * Serves the configured model over HTTP ({@link InferenceServer}: {@code /generate}, the
 * OpenAI-compatible completions and chat endpoints with streaming, {@code /v1/models},
 * {@code /health}, {@code /metrics}) until the build is interrupted, or for {@code durationSeconds}.
 *
 * <pre>
 * mvn itera:serve -Ditera.checkpoint=target/itera/checkpoints/quickstart -Ditera.serve.port=8000
 * </pre>
 */
@Mojo(name = "serve", defaultPhase = LifecyclePhase.NONE, threadSafe = true)
public class ServeMojo extends AbstractIteraMojo {
  /** Skips this goal only. */
  @Parameter(property = "itera.serve.skip", defaultValue = "false")
  boolean skipServe;

  /** Address to bind; the default accepts local connections only. */
  @Parameter(property = "itera.serve.host", defaultValue = "127.0.0.1")
  String host;

  /** Port to listen on (0: any free port, logged at start). */
  @Parameter(property = "itera.serve.port", defaultValue = "8000")
  int port;

  /** Generations that run at once. */
  @Parameter(property = "itera.serve.maxConcurrent", defaultValue = "2")
  int maxConcurrent;

  /** Requests that may wait for a slot; beyond it the server answers 429. */
  @Parameter(property = "itera.serve.queueCapacity", defaultValue = "64")
  int queueCapacity;

  /** Largest {@code max_tokens} a request may ask for. */
  @Parameter(property = "itera.serve.maxTokens", defaultValue = "2048")
  int maxTokens;

  /** Name of an environment variable holding a bearer token that every request but /health must send. */
  @Parameter(property = "itera.serve.apiKeyEnv")
  String apiKeyEnv;

  /** Seconds to serve before stopping; 0 serves until the build is interrupted. */
  @Parameter(property = "itera.serve.durationSeconds", defaultValue = "0")
  int durationSeconds;

  /** The port actually bound by the latest run (tests use port 0). */
  volatile int boundPort = -1;

  @Override
  String goal() {
    return "serve";
  }

  @Override
  boolean goalSkipped() {
    return skipServe;
  }

  @Override
  void validateGoal() throws ConfigurationProblem {
    if (durationSeconds < 0) {
      throw new ConfigurationProblem("durationSeconds", "durationSeconds must be >= 0, got " + durationSeconds,
          "set <durationSeconds> (-Ditera.serve.durationSeconds=...) to 0 (until interrupted) or a number of seconds");
    }
    if (apiKeyEnv != null && !apiKeyEnv.isBlank() && System.getenv(apiKeyEnv) == null) {
      throw new ConfigurationProblem("apiKeyEnv", "the environment variable '" + apiKeyEnv + "' is not set",
          "export " + apiKeyEnv + "=<token> or remove <apiKeyEnv>");
    }
    try {
      serverConfig();
    } catch (IllegalArgumentException e) {
      String m = e.getMessage();
      String element = m.contains("port") ? "port" : m.contains("maxConcurrent") ? "maxConcurrent"
          : m.contains("queue") ? "queueCapacity" : m.contains("maxTokens") ? "maxTokens" : "host";
      throw new ConfigurationProblem(element, m, "set <" + element + "> (-Ditera.serve." + element + "=...) to an allowed value");
    }
  }

  ServerConfig serverConfig() {
    ServerConfig.Builder b = ServerConfig.builder().host(host).port(port).maxConcurrent(maxConcurrent)
        .queueCapacity(queueCapacity).maxTokens(maxTokens);
    if (apiKeyEnv != null && !apiKeyEnv.isBlank() && System.getenv(apiKeyEnv) != null) {
      b.apiKey(System.getenv(apiKeyEnv));
    }
    return b.build();
  }

  @Override
  void run(Backend backend, ModelSpec spec) throws MojoExecutionException, ConfigurationProblem {
    try (ModelSpec.LoadedModel m = spec.open(backend, spec.defaultName())) {
      if (m.generator() == null) {
        throw new ConfigurationProblem("checkpoint", "the checkpoint has no tokenizer, so the server cannot turn text into tokens",
            "save the checkpoint with its tokenizer");
      }
      try (InferenceServer server = InferenceServer.builder(serverConfig()).model(spec.defaultName(), m.generator()).start()) {
        boundPort = server.port();
        getLog().info("Serving '" + spec.defaultName() + "' on http://" + host + ":" + server.port()
            + " (POST /generate, /v1/completions, /v1/chat/completions; GET /v1/models, /health, /metrics)"
            + (durationSeconds > 0 ? " for " + durationSeconds + " s" : "; stop with Ctrl-C"));
        if (durationSeconds > 0) {
          Thread.sleep(Duration.ofSeconds(durationSeconds).toMillis());
        } else {
          server.awaitTermination();
        }
      }
    } catch (IOException e) {
      throw new MojoExecutionException("cannot start the server: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      getLog().info("Interrupted: server stopped");
    }
  }
}
