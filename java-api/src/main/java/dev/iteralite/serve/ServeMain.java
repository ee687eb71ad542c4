package dev.iteralite.serve;

import dev.iteralite.backend.Backend;
import dev.iteralite.backend.Backends;
import dev.iteralite.backend.CpuBackend;
import dev.iteralite.checkpoint.Checkpoint;
import dev.iteralite.generate.Generator;
import dev.iteralite.model.CausalLm;
import dev.iteralite.model.CompressibleModel;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.model.Llama2cCheckpoint;
import dev.iteralite.model.QuantizedModel;
import dev.iteralite.model.Transformer;
import dev.iteralite.quant.WeightFormat;
import dev.iteralite.tensor.DType;
import dev.iteralite.tokenizer.ByteTokenizer;
import dev.iteralite.tokenizer.Llama2cTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Command-line entry point of the inference server ({@code java -jar itera-serve.jar --help}).
 * Models: {@code --preset tiny|small} (a randomly initialised Itera-Lite with the byte tokenizer,
 * for load tests), {@code --checkpoint DIR} (a saved model with its tokenizer) and {@code --llama2c
 * MODEL.bin TOKENIZER.bin}, each optionally followed by {@code --name NAME}; the first model is the
 * default.
 */
public final class ServeMain {
  private ServeMain() {}

  private static final String USAGE = """
      usage: java -jar itera-serve.jar [options] MODEL...
      models (at least one; the first is the default; each may be followed by --name NAME):
        --preset tiny|small         Itera-Lite with random weights and the byte tokenizer (--seed N, default 1)
        --llama2c MODEL.bin TOK.bin a llama2.c checkpoint and its tokenizer (e.g. stories260K.bin tok512.bin)
        --checkpoint DIR            an Itera-Lite / Transformer checkpoint (its LAST, or the folder itself)
      after a --preset or --checkpoint model: --format ID serves it compressed (f16, bf16, q8_0, int8, q4_0,
        int4_g32, int4_g64, int4_g128, nf4, nf4_dq), decoded through the quantised kernels
      options:
        --host ADDR                 bind address (default 127.0.0.1)
        --port N                    port (default 8000; 0 = any free port)
        --max-concurrent N          generations at once (default 2)
        --queue N                   requests that may wait (default 64; beyond: 429)
        --max-body-bytes N          default 1048576 (beyond: 413)
        --max-prompt-tokens N       default 4096
        --max-tokens N              largest max_tokens (default 2048)
        --default-max-tokens N      max_tokens when a request has none (default 128)
        --timeout-s N               request time limit (default 120)
        --queue-timeout-s N         longest wait for a slot (default 30; beyond: 503)
        --retry-after-s N           Retry-After of 429/503 answers (default 1)
        --threads N                 native threads per kernel call (default: all cores)
        --api-key-env VAR           require 'Authorization: Bearer <$VAR>' (not for /health)
      """;

  /** Starts the server and blocks until the process is stopped. */
  public static void main(String[] args) throws Exception {
    if (List.of(args).contains("--help") || List.of(args).contains("-h")) {
      System.out.print(USAGE);
      return;
    }
    // The JDK server reads request headers and bodies on its worker threads with no time limit by
    // default, so a client trickling bytes could hold a thread forever: cap reading a request at 30 s
    // (responses, i.e. long streams, stay unlimited). Must be set before the server classes load.
    if (System.getProperty("sun.net.httpserver.maxReqTime") == null) {
      System.setProperty("sun.net.httpserver.maxReqTime", "30");
    }
    List<AutoCloseable> owned = new ArrayList<>();
    InferenceServer server;
    try {
      server = start(args, owned);
    } catch (IllegalArgumentException | IOException e) {
      System.err.println("error: " + e.getMessage());
      if (e instanceof IllegalArgumentException) {
        System.err.print(USAGE);
      }
      closeAll(owned);
      System.exit(2);
      return;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.close();
      closeAll(owned);
    }, "itera-serve-shutdown"));
    System.out.println("listening on " + server.baseUri() + " (POST /generate, /v1/completions, /v1/chat/completions;"
        + " GET /v1/models, /health, /metrics)");
    server.awaitTermination();
  }

  /** Parses {@code args}, loads the models (added to {@code owned}, which the caller closes) and starts the server. */
  static InferenceServer start(String[] args, List<AutoCloseable> owned) throws IOException {
    ServerConfig.Builder cfg = ServerConfig.builder();
    record Pending(String name, String kind, String a, String b, WeightFormat format) {}
    List<Pending> pending = new ArrayList<>();
    long seed = 1;
    Integer threads = null;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      switch (a) {
        case "--preset" -> {
          String p = value(args, ++i, a);
          if (!p.equals("tiny") && !p.equals("small")) {
            throw new IllegalArgumentException("--preset must be tiny or small, got '" + p + "'");
          }
          pending.add(new Pending("itera-lite-" + p, "preset", p, null, null));
        }
        case "--llama2c" -> {
          String m = value(args, ++i, a);
          String t = value(args, ++i, a);
          String name = Path.of(m).getFileName().toString().replaceFirst("\\.bin$", "");
          pending.add(new Pending(name, "llama2c", m, t, null));
        }
        case "--checkpoint" -> {
          String d = value(args, ++i, a);
          Path dir = Path.of(d).toAbsolutePath().normalize();
          pending.add(new Pending(dir.getFileName() == null ? "model" : dir.getFileName().toString(), "checkpoint", d, null, null));
        }
        case "--name" -> {
          if (pending.isEmpty()) {
            throw new IllegalArgumentException("--name must follow a model (--preset, --checkpoint or --llama2c)");
          }
          Pending last = pending.remove(pending.size() - 1);
          pending.add(new Pending(value(args, ++i, a), last.kind, last.a, last.b, last.format));
        }
        case "--format" -> {
          if (pending.isEmpty() || pending.get(pending.size() - 1).kind.equals("llama2c")) {
            throw new IllegalArgumentException("--format must follow an Itera-Lite or Transformer model (--preset or --checkpoint)");
          }
          Pending last = pending.remove(pending.size() - 1);
          WeightFormat format = WeightFormat.fromId(value(args, ++i, a));
          pending.add(new Pending(last.name + "-" + format.id(), last.kind, last.a, last.b, format));
        }
        case "--seed" -> seed = Long.parseLong(value(args, ++i, a));
        case "--host" -> cfg.host(value(args, ++i, a));
        case "--port" -> cfg.port(intValue(args, ++i, a));
        case "--max-concurrent" -> cfg.maxConcurrent(intValue(args, ++i, a));
        case "--queue" -> cfg.queueCapacity(intValue(args, ++i, a));
        case "--max-body-bytes" -> cfg.maxBodyBytes(intValue(args, ++i, a));
        case "--max-prompt-tokens" -> cfg.maxPromptTokens(intValue(args, ++i, a));
        case "--max-tokens" -> cfg.maxTokens(intValue(args, ++i, a));
        case "--default-max-tokens" -> cfg.defaultMaxTokens(intValue(args, ++i, a));
        case "--timeout-s" -> cfg.requestTimeout(Duration.ofSeconds(intValue(args, ++i, a)));
        case "--queue-timeout-s" -> cfg.queueTimeout(Duration.ofSeconds(intValue(args, ++i, a)));
        case "--retry-after-s" -> cfg.retryAfterSeconds(intValue(args, ++i, a));
        case "--threads" -> threads = intValue(args, ++i, a);
        case "--api-key-env" -> {
          String var = value(args, ++i, a);
          String key = System.getenv(var);
          if (key == null || key.isBlank()) {
            throw new IllegalArgumentException("--api-key-env " + var + ": the environment variable is not set");
          }
          cfg.apiKey(key.trim());
        }
        default -> throw new IllegalArgumentException("unknown option '" + a + "'");
      }
    }
    if (pending.isEmpty()) {
      throw new IllegalArgumentException("give at least one model (--preset, --checkpoint or --llama2c)");
    }
    Backend backend = Backends.select();
    if (threads != null) {
      if (!(backend instanceof CpuBackend cpu)) {
        throw new IllegalArgumentException("--threads needs the native CPU backend, not " + backend);
      }
      cpu.setThreads(threads);
    }
    InferenceServer.Builder b = InferenceServer.builder(cfg.build());
    for (Pending p : pending) {
      if (p.kind.equals("preset")) {
        IteraLiteConfig c = p.a.equals("tiny") ? IteraLiteConfig.tiny(256) : IteraLiteConfig.small(256);
        IteraLiteModel m = new IteraLiteModel(backend, c, DType.F32, seed);
        owned.add(m);
        b.model(p.name, compressed(m, p.format, owned), ByteTokenizer.instance());
      } else if (p.kind.equals("checkpoint")) {
        Checkpoint.Loaded loaded = Checkpoint.load(Path.of(p.a), backend);
        owned.add(loaded);
        if (loaded.tokenizer() == null) {
          throw new IllegalArgumentException("checkpoint " + loaded.directory() + " has no " + Checkpoint.TOKENIZER_FILE
              + "; the server needs the tokenizer the model was trained with");
        }
        b.model(p.name, compressed(loaded.model(), p.format, owned), loaded.tokenizer());
      } else {
        Path model = existing(p.a);
        Llama2cTokenizer tok = Llama2cTokenizer.fromLlama2c(existing(p.b));
        Llama2cCheckpoint ckpt = Llama2cCheckpoint.load(model);
        owned.add(ckpt);
        b.model(p.name, new Generator(new Transformer(Backends.cpu(), ckpt.config(), ckpt.weights()), tok));
      }
    }
    return b.start();
  }

  /** {@code model} itself, or its compressed copy in {@code format} (added to {@code owned}). */
  private static CausalLm compressed(CausalLm model, WeightFormat format, List<AutoCloseable> owned) {
    if (format == null) {
      return model;
    }
    if (!(model instanceof CompressibleModel compressible)) {
      throw new IllegalArgumentException("--format " + format.id() + ": compressed decoding exists for Itera-Lite and"
          + " Transformer models only; serve this " + model.architecture() + " model without --format");
    }
    QuantizedModel q = QuantizedModel.quantize(compressible, format);
    owned.add(q);
    return q;
  }

  private static Path existing(String file) {
    Path p = Path.of(file);
    if (!Files.isRegularFile(p)) {
      throw new IllegalArgumentException("no such file: " + p.toAbsolutePath());
    }
    return p;
  }

  private static String value(String[] args, int i, String option) {
    if (i >= args.length) {
      throw new IllegalArgumentException(option + " needs a value");
    }
    return args[i];
  }

  private static int intValue(String[] args, int i, String option) {
    String v = value(args, i, option);
    try {
      return Integer.parseInt(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(option + " needs an integer, got '" + v + "'");
    }
  }

  private static void closeAll(List<AutoCloseable> owned) {
    for (AutoCloseable c : owned) {
      try {
        c.close();
      } catch (Exception ignored) {
        // Closing at exit: nothing useful to do with a failure.
      }
    }
  }
}
