package dev.iteralite.serve;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.iteralite.generate.GenerationConfig;
import dev.iteralite.generate.GenerationListener;
import dev.iteralite.generate.GenerationResult;
import dev.iteralite.generate.Generator;
import dev.iteralite.model.CausalLm;
import dev.iteralite.tensor.NativeMemory;
import dev.iteralite.tokenizer.Tokenizer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An HTTP inference server over one or more named models, built on the JDK's {@code
 * com.sun.net.httpserver}: {@code POST /generate}, OpenAI-compatible {@code POST /v1/completions}
 * and {@code POST /v1/chat/completions} (with {@code "stream": true} as server-sent events), {@code
 * GET /v1/models}, {@code GET /health} and {@code GET /metrics} (Prometheus text).
 *
 * <p>At most {@link ServerConfig#maxConcurrent()} generations run at once, each in its own decoding
 * session (models are shared, read-only); up to {@link ServerConfig#queueCapacity()} more requests
 * wait in arrival order, and further ones get 429 with {@code Retry-After}. A streaming client that
 * disconnects stops its generation at the next token and its decoding state is freed; a request
 * that outlives {@link ServerConfig#requestTimeout()} gets 503 while waiting or a shortened text
 * ({@code time_limit}) while generating. Bad requests get a JSON error naming the field.
 *
 * <pre>{@code
 * try (InferenceServer server = InferenceServer.builder(ServerConfig.builder().port(8000).build())
 *     .model("tiny", model, ByteTokenizer.instance())
 *     .start()) {
 *   server.awaitTermination();
 * }
 * }</pre>
 */
public final class InferenceServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(InferenceServer.class);
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
  private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);

  private final ServerConfig config;
  private final Map<String, Served> models;
  private final String defaultModel;
  private final Metrics metrics = new Metrics();
  private final Semaphore slots;
  private final AtomicInteger waiting = new AtomicInteger();
  private final AtomicInteger active = new AtomicInteger();
  private final AtomicInteger exchanges = new AtomicInteger();
  private final AtomicLong ids = new AtomicLong();
  private final long created = System.currentTimeMillis() / 1000;
  private final byte[] apiKey;
  private HttpServer http;
  private ThreadPoolExecutor executor;
  private volatile boolean stopping;
  private final Object stopped = new Object();

  /** One served model: its public name and the generator over it. */
  private record Served(String name, String architecture, Generator generator) {}

  private InferenceServer(ServerConfig config, Map<String, Served> models) {
    this.config = config;
    this.models = Map.copyOf(models);
    this.defaultModel = models.keySet().iterator().next();
    this.slots = new Semaphore(config.maxConcurrent(), true);
    this.apiKey = config.apiKey().map(k -> k.getBytes(StandardCharsets.US_ASCII)).orElse(null);
    metrics.gauge("itera_queue_depth", "Requests waiting for a generation slot.", waiting::get);
    metrics.gauge("itera_active_generations", "Generations running now.", active::get);
    metrics.gauge("itera_max_concurrent_generations", "Configured generation slots.", config::maxConcurrent);
    metrics.gauge("itera_queue_capacity", "Configured queue capacity.", config::queueCapacity);
    metrics.gauge("itera_native_memory_bytes", "Native memory held by live tensors (models and decoding states).",
        NativeMemory::liveBytes);
  }

  /** A builder for a server with {@code config}; add at least one model. */
  public static Builder builder(ServerConfig config) {
    return new Builder(config);
  }

  /** Collects the models of an {@link InferenceServer}; the first one added is the default. */
  public static final class Builder {
    private final ServerConfig config;
    private final Map<String, Served> models = new LinkedHashMap<>();

    private Builder(ServerConfig config) {
      if (config == null) {
        throw new IllegalArgumentException("server: config must not be null");
      }
      this.config = config;
    }

    /** Serves {@code model} with {@code tokenizer} under {@code name} (the model stays owned by the caller). */
    public Builder model(String name, CausalLm model, Tokenizer tokenizer) {
      if (model == null) {
        throw new IllegalArgumentException("server: model '" + name + "' must not be null");
      }
      return add(name, new Generator(model, tokenizer));
    }

    /** Serves an existing generator (e.g. over a llama2.c {@code Transformer}) under {@code name}. */
    public Builder model(String name, Generator generator) {
      if (generator == null) {
        throw new IllegalArgumentException("server: generator '" + name + "' must not be null");
      }
      return add(name, generator);
    }

    private Builder add(String name, Generator generator) {
      if (name == null || name.isEmpty() || name.length() > 128 || !name.chars().allMatch(c -> c > 0x20 && c < 0x7F)) {
        throw new IllegalArgumentException("server: model name must be 1-128 printable ASCII characters without spaces, got '" + name + "'");
      }
      if (models.containsKey(name)) {
        throw new IllegalArgumentException("server: model name '" + name + "' is used twice");
      }
      models.put(name, new Served(name, generator.architecture(), generator));
      return this;
    }

    /**
     * Binds and starts the server.
     *
     * @throws IOException if the address cannot be bound
     */
    public InferenceServer start() throws IOException {
      if (models.isEmpty()) {
        throw new IllegalArgumentException("server: add at least one model before start()");
      }
      InferenceServer s = new InferenceServer(config, models);
      s.bind();
      return s;
    }
  }

  private void bind() throws IOException {
    // Slots for every admitted request (running or waiting) plus a few for quick answers (health,
    // metrics, rejections), so a full queue never starves them.
    int threads = config.maxConcurrent() + config.queueCapacity() + 16;
    AtomicInteger n = new AtomicInteger();
    executor = new ThreadPoolExecutor(threads, threads, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
      Thread t = new Thread(r, "itera-http-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    executor.allowCoreThreadTimeOut(true);
    http = HttpServer.create(new InetSocketAddress(config.host(), config.port()), 128);
    http.setExecutor(executor);
    http.createContext("/", this::handle);
    http.start();
    LOG.info("serving {} on http://{}:{} ({} concurrent, queue {})", models.keySet(), config.host(), port(),
        config.maxConcurrent(), config.queueCapacity());
  }

  /** The bound port. */
  public int port() {
    return http.getAddress().getPort();
  }

  /** {@code http://host:port}. */
  public URI baseUri() {
    return URI.create("http://" + config.host() + ":" + port());
  }

  /** Generations running now. */
  public int activeGenerations() {
    return active.get();
  }

  /** Requests waiting for a generation slot. */
  public int queueDepth() {
    return waiting.get();
  }

  /** Blocks until {@link #close()} has been called (from another thread or a shutdown hook). */
  public void awaitTermination() throws InterruptedException {
    synchronized (stopped) {
      while (http != null) {
        stopped.wait();
      }
    }
  }

  /**
   * Stops accepting connections, ends running generations at their next token and waits (up to 5
   * s) for open exchanges; idempotent. The models are not closed.
   */
  @Override
  public void close() {
    synchronized (stopped) {
      if (http == null) {
        return;
      }
      stopping = true;
      slots.release(config.queueCapacity() + 1); // waiters wake, see `stopping` and answer 503
      // HttpServer.stop(delay) of JDK 17 waits the whole delay when no exchange is open, so wait
      // for our own count of open exchanges (running generations end at their next token).
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (exchanges.get() > 0 && System.nanoTime() < end) {
        try {
          Thread.sleep(5);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        }
      }
      http.stop(0);
      executor.shutdownNow();
      try {
        executor.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      http = null;
      stopped.notifyAll();
    }
  }

  // ------------------------------------------------------------------ routing

  private static String endpoint(String path) {
    return switch (path) {
      case "/generate", "/v1/completions", "/v1/chat/completions", "/v1/models", "/health", "/metrics" -> path;
      default -> path.startsWith("/v1/models/") ? "/v1/models/{id}" : "other";
    };
  }

  private void handle(HttpExchange ex) {
    exchanges.incrementAndGet();
    try {
      handleCounted(ex);
    } finally {
      exchanges.decrementAndGet();
    }
  }

  private void handleCounted(HttpExchange ex) {
    long start = System.nanoTime();
    Exchange x = new Exchange(ex);
    String path = ex.getRequestURI().getPath();
    try {
      route(x, path, start);
    } catch (ApiException e) {
      x.error(e, config.retryAfterSeconds());
    } catch (ClientGone e) {
      x.status = 499; // nginx's "client closed request": recorded in the metrics, never sent
    } catch (RuntimeException | Error e) {
      LOG.error("request {} {} failed", ex.getRequestMethod(), path, e);
      x.error(new ApiException(500, "server_error", "internal_error", null, "internal error: " + e.getClass().getSimpleName()),
          config.retryAfterSeconds());
    } finally {
      metrics.request(endpoint(path), x.status, (System.nanoTime() - start) * 1e-9);
      ex.close();
    }
  }

  private void route(Exchange x, String path, long start) {
    if (apiKey != null && !path.equals("/health")) {
      String auth = x.ex.getRequestHeaders().getFirst("Authorization");
      byte[] given = auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)
          ? auth.substring(7).trim().getBytes(StandardCharsets.US_ASCII) : new byte[0];
      if (!MessageDigest.isEqual(given, apiKey)) {
        x.ex.getResponseHeaders().set("WWW-Authenticate", "Bearer");
        throw new ApiException(401, "authentication_error", "invalid_api_key", null,
            auth == null ? "missing 'Authorization: Bearer <key>' header" : "invalid API key");
      }
    }
    String method = x.ex.getRequestMethod();
    switch (endpoint(path)) {
      case "/health" -> {
        requireMethod(x, method, "GET");
        health(x);
      }
      case "/metrics" -> {
        requireMethod(x, method, "GET");
        x.send(200, "text/plain; version=0.0.4; charset=utf-8", metrics.render().getBytes(StandardCharsets.UTF_8));
      }
      case "/v1/models" -> {
        requireMethod(x, method, "GET");
        ArrayNode data = NODES.arrayNode();
        for (Served s : sortedModels()) {
          data.add(modelNode(s));
        }
        x.json(200, NODES.objectNode().put("object", "list").set("data", data));
      }
      case "/v1/models/{id}" -> {
        requireMethod(x, method, "GET");
        String id = path.substring("/v1/models/".length());
        Served s = models.get(id);
        if (s == null) {
          throw new ApiException(404, "invalid_request_error", "model_not_found", "model", "no model named '" + id + "'");
        }
        x.json(200, modelNode(s));
      }
      case "/generate" -> {
        requireMethod(x, method, "POST");
        generate(x, Requests.Kind.GENERATE, start);
      }
      case "/v1/completions" -> {
        requireMethod(x, method, "POST");
        generate(x, Requests.Kind.COMPLETION, start);
      }
      case "/v1/chat/completions" -> {
        requireMethod(x, method, "POST");
        generate(x, Requests.Kind.CHAT, start);
      }
      default -> throw new ApiException(404, "invalid_request_error", "not_found", null,
          "no endpoint " + path + "; try /generate, /v1/completions, /v1/chat/completions, /v1/models, /health or /metrics");
    }
  }

  private static void requireMethod(Exchange x, String method, String allowed) {
    if (!method.equals(allowed)) {
      x.ex.getResponseHeaders().set("Allow", allowed);
      throw new ApiException(405, "invalid_request_error", "method_not_allowed", null,
          "method " + method + " is not allowed here; use " + allowed);
    }
  }

  private List<Served> sortedModels() {
    List<Served> l = new ArrayList<>(models.values());
    l.sort((a, b) -> a.name.compareTo(b.name));
    return l;
  }

  private ObjectNode modelNode(Served s) {
    ObjectNode m = NODES.objectNode().put("id", s.name).put("object", "model").put("created", created).put("owned_by", "itera-lite");
    m.put("architecture", s.architecture);
    m.put("vocab_size", s.generator.tokenizer().vocabSize());
    m.put("tokenizer", s.generator.tokenizer().name());
    if (s.generator.maxSequenceLength() != Integer.MAX_VALUE) {
      m.put("max_sequence_length", s.generator.maxSequenceLength());
    }
    return m;
  }

  private void health(Exchange x) {
    ObjectNode h = NODES.objectNode().put("status", stopping ? "stopping" : "ok");
    ArrayNode names = h.putArray("models");
    sortedModels().forEach(s -> names.add(s.name));
    h.put("active_generations", active.get()).put("queue_depth", waiting.get())
        .put("max_concurrent", config.maxConcurrent()).put("queue_capacity", config.queueCapacity());
    x.json(stopping ? 503 : 200, h);
  }

  // ------------------------------------------------------------------ generation

  private void generate(Exchange x, Requests.Kind kind, long start) {
    byte[] body = readBody(x);
    Requests.Parsed req = Requests.parse(kind, body, config);
    String modelName = req.model() == null ? defaultModel : req.model();
    Served served = models.get(modelName);
    if (served == null) {
      throw new ApiException(404, "invalid_request_error", "model_not_found", "model",
          "no model named '" + modelName + "'; GET /v1/models lists them");
    }
    Generator gen = served.generator;
    int[] prompt;
    try {
      prompt = gen.encodePrompt(req.prompt());
    } catch (IllegalArgumentException e) {
      throw ApiException.invalid(kind == Requests.Kind.CHAT ? "messages" : "prompt", e.getMessage());
    }
    int limit = Math.min(config.maxPromptTokens(), gen.maxSequenceLength());
    if (prompt.length > limit) {
      throw new ApiException(400, "invalid_request_error", "context_length_exceeded", kind == Requests.Kind.CHAT ? "messages" : "prompt",
          "the prompt is " + prompt.length + " tokens long; this server accepts at most " + limit);
    }
    GenerationConfig gc;
    try {
      gc = GenerationConfig.builder().maxNewTokens(req.maxTokens()).temperature(req.temperature()).topK(req.topK())
          .topP(req.topP()).stopSequences(req.stop())
          .seed(req.seed() != null ? req.seed() : ThreadLocalRandom.current().nextLong()).build();
    } catch (IllegalArgumentException e) {
      throw ApiException.invalid(null, e.getMessage());
    }
    long deadline = start + config.requestTimeout().toNanos();
    acquireSlot(Math.min(deadline, start + config.queueTimeout().toNanos()));
    long admitted = System.nanoTime();
    metrics.queueWait.observe((admitted - start) * 1e-9);
    active.incrementAndGet();
    try {
      Run run = new Run(x, req, served, deadline, start);
      GenerationResult result = null;
      String reason;
      try {
        if (req.stream()) {
          run.openStream();
        }
        result = gen.generate(prompt, gc, run);
        reason = run.reason(result);
      } catch (ClientGone e) {
        reason = "disconnected";
      } catch (RuntimeException | Error e) {
        metrics.generation(served.name, prompt.length, run.tokens, "error");
        throw e;
      }
      metrics.generation(served.name, prompt.length, result != null ? result.generatedTokens().length : run.tokens, reason);
      if (result == null) {
        x.status = 499; // nginx's "client closed request": recorded in the metrics, never sent
        return;
      }
      if (reason.equals("shutdown") && !req.stream()) {
        throw new ApiException(503, "server_error", "shutting_down", null, "the server is shutting down");
      }
      try {
        if (req.stream()) {
          run.finishStream(result, prompt.length);
        } else {
          x.json(200, responseBody(req, served, run.id, result, prompt.length, reason));
        }
      } catch (ClientGone e) {
        x.status = 499;
      }
    } finally {
      active.decrementAndGet();
      slots.release();
    }
  }

  /** Waits in arrival order for a generation slot, or answers 429 (queue full) / 503 (timeout, shutdown). */
  private void acquireSlot(long waitUntil) {
    if (stopping) {
      throw new ApiException(503, "server_error", "shutting_down", null, "the server is shutting down");
    }
    try {
      if (slots.tryAcquire(0, TimeUnit.NANOSECONDS)) {
        return;
      }
      if (waiting.incrementAndGet() > config.queueCapacity()) {
        waiting.decrementAndGet();
        throw new ApiException(429, "rate_limit_error", "queue_full", null,
            "the server is busy (" + config.maxConcurrent() + " generations running, " + config.queueCapacity()
                + " waiting); retry after " + config.retryAfterSeconds() + " s");
      }
      boolean got;
      try {
        got = slots.tryAcquire(Math.max(0, waitUntil - System.nanoTime()), TimeUnit.NANOSECONDS);
      } finally {
        waiting.decrementAndGet();
      }
      if (!got) {
        throw new ApiException(503, "server_error", "queue_timeout", null,
            "no generation slot became free in time; retry after " + config.retryAfterSeconds() + " s");
      }
      if (stopping) {
        slots.release();
        throw new ApiException(503, "server_error", "shutting_down", null, "the server is shutting down");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ApiException(503, "server_error", "shutting_down", null, "the server is shutting down");
    }
  }

  private byte[] readBody(Exchange x) {
    String cl = x.ex.getRequestHeaders().getFirst("Content-Length");
    if (cl != null) {
      long n;
      try {
        n = Long.parseLong(cl.trim());
      } catch (NumberFormatException e) {
        throw new ApiException(400, "invalid_request_error", "invalid_body", null, "invalid Content-Length");
      }
      if (n > config.maxBodyBytes()) {
        throw tooLarge(x, n + " bytes");
      }
    }
    int max = config.maxBodyBytes();
    try (InputStream in = x.ex.getRequestBody()) {
      ByteArrayOutputStream out = new ByteArrayOutputStream(Math.min(max, 8192));
      byte[] buf = new byte[8192];
      int total = 0;
      int r;
      while ((r = in.read(buf, 0, Math.min(buf.length, max + 1 - total))) > 0) {
        out.write(buf, 0, r);
        total += r;
        if (total > max) {
          throw tooLarge(x, "more than " + max + " bytes");
        }
      }
      return out.toByteArray();
    } catch (IOException e) {
      throw new ClientGone(e);
    }
  }

  private ApiException tooLarge(Exchange x, String size) {
    x.ex.getResponseHeaders().set("Connection", "close");
    return new ApiException(413, "invalid_request_error", "body_too_large", null,
        "the request body is " + size + "; the limit is " + config.maxBodyBytes() + " bytes");
  }

  private String newId(Requests.Kind kind) {
    String prefix = switch (kind) {
      case CHAT -> "chatcmpl-";
      case COMPLETION -> "cmpl-";
      case GENERATE -> "gen-";
    };
    return prefix + Long.toHexString(created) + Long.toHexString(ids.incrementAndGet());
  }

  private static String openAiFinish(GenerationResult.StopReason r) {
    return r == GenerationResult.StopReason.STOP_SEQUENCE || r == GenerationResult.StopReason.BOS ? "stop" : "length";
  }

  private static String generateStopReason(GenerationResult r, String reason) {
    return switch (r.stopReason()) {
      case MAX_TOKENS -> "max_tokens";
      case SEQUENCE_LENGTH -> "sequence_length";
      case STOP_SEQUENCE -> "stop_sequence";
      case BOS -> "end_of_text";
      case CANCELLED -> reason;
    };
  }

  private ObjectNode usage(int prompt, int completion) {
    return NODES.objectNode().put("prompt_tokens", prompt).put("completion_tokens", completion).put("total_tokens", prompt + completion);
  }

  private ObjectNode responseBody(Requests.Parsed req, Served served, String id, GenerationResult r, int promptTokens, String reason) {
    int n = r.generatedTokens().length;
    return switch (req.kind()) {
      case GENERATE -> NODES.objectNode().put("id", id).put("model", served.name).put("text", r.text())
          .put("prompt_tokens", promptTokens).put("generated_tokens", n).put("stop_reason", generateStopReason(r, reason));
      case COMPLETION -> {
        ObjectNode o = NODES.objectNode().put("id", id).put("object", "text_completion").put("created", nowSeconds())
            .put("model", served.name);
        ObjectNode choice = o.putArray("choices").addObject().put("text", r.text()).put("index", 0);
        choice.putNull("logprobs");
        choice.put("finish_reason", openAiFinish(r.stopReason()));
        o.set("usage", usage(promptTokens, n));
        yield o;
      }
      case CHAT -> {
        ObjectNode o = NODES.objectNode().put("id", id).put("object", "chat.completion").put("created", nowSeconds())
            .put("model", served.name);
        ObjectNode choice = o.putArray("choices").addObject().put("index", 0);
        choice.putObject("message").put("role", "assistant").put("content", r.text());
        choice.putNull("logprobs");
        choice.put("finish_reason", openAiFinish(r.stopReason()));
        o.set("usage", usage(promptTokens, n));
        yield o;
      }
    };
  }

  private static long nowSeconds() {
    return System.currentTimeMillis() / 1000;
  }

  /** The client closed the connection (a write or read failed); the generation is abandoned. */
  private static final class ClientGone extends RuntimeException {
    private static final long serialVersionUID = 1L;

    ClientGone(IOException cause) {
      super(cause.getMessage(), cause, false, false);
    }
  }

  /**
   * One running generation: decides cancellation (client gone, deadline, shutdown) and, for
   * streaming requests, writes each piece as a server-sent event.
   */
  private final class Run implements GenerationListener {
    final Exchange x;
    final Requests.Parsed req;
    final Served served;
    final long deadline;
    final long start;
    final String id;
    final long createdAt = nowSeconds();
    OutputStream out;
    int tokens;
    boolean firstToken = true;

    Run(Exchange x, Requests.Parsed req, Served served, long deadline, long start) {
      this.x = x;
      this.req = req;
      this.served = served;
      this.deadline = deadline;
      this.start = start;
      this.id = newId(req.kind());
    }

    @Override
    public boolean isCancelled() {
      return stopping || System.nanoTime() - deadline > 0;
    }

    String reason(GenerationResult r) {
      if (r.stopReason() != GenerationResult.StopReason.CANCELLED) {
        return openAiFinish(r.stopReason());
      }
      return stopping ? "shutdown" : "time_limit";
    }

    @Override
    public void onToken(int token, String piece) {
      if (token >= 0) {
        tokens++;
        if (firstToken) {
          firstToken = false;
          metrics.firstToken.observe((System.nanoTime() - start) * 1e-9);
        }
      }
      if (out != null && !piece.isEmpty()) {
        event(chunk(piece, null));
      }
    }

    void openStream() {
      Headers h = x.ex.getResponseHeaders();
      h.set("Content-Type", "text/event-stream; charset=utf-8");
      h.set("Cache-Control", "no-cache");
      h.set("X-Accel-Buffering", "no");
      try {
        x.ex.sendResponseHeaders(200, 0);
        x.status = 200;
        x.sent = true;
        out = x.ex.getResponseBody();
        x.stream = out;
      } catch (IOException e) {
        throw new ClientGone(e);
      }
      if (req.kind() == Requests.Kind.CHAT) {
        ObjectNode c = base("chat.completion.chunk");
        ObjectNode choice = c.putArray("choices").addObject().put("index", 0);
        choice.putObject("delta").put("role", "assistant").put("content", "");
        choice.putNull("logprobs");
        choice.putNull("finish_reason");
        event(c);
      }
    }

    private ObjectNode base(String object) {
      return NODES.objectNode().put("id", id).put("object", object).put("created", createdAt).put("model", served.name);
    }

    /** The event carrying {@code piece}, or (with {@code finish} set) the closing event. */
    private ObjectNode chunk(String piece, String finish) {
      switch (req.kind()) {
        case GENERATE -> {
          return NODES.objectNode().put("text", piece);
        }
        case COMPLETION -> {
          ObjectNode c = base("text_completion");
          ObjectNode choice = c.putArray("choices").addObject().put("text", piece).put("index", 0);
          choice.putNull("logprobs");
          choice.put("finish_reason", finish);
          return c;
        }
        default -> {
          ObjectNode c = base("chat.completion.chunk");
          ObjectNode choice = c.putArray("choices").addObject().put("index", 0);
          ObjectNode delta = choice.putObject("delta");
          if (finish == null) {
            delta.put("content", piece);
          }
          choice.putNull("logprobs");
          choice.put("finish_reason", finish);
          return c;
        }
      }
    }

    void finishStream(GenerationResult r, int promptTokens) {
      int n = r.generatedTokens().length;
      String reason = reason(r);
      if (req.kind() == Requests.Kind.GENERATE) {
        event(NODES.objectNode().put("id", id).put("model", served.name).put("text", "").put("done", true)
            .put("prompt_tokens", promptTokens).put("generated_tokens", n).put("stop_reason", generateStopReason(r, reason)));
      } else {
        event(chunk("", openAiFinish(r.stopReason())));
        if (req.includeUsage()) {
          ObjectNode u = base(req.kind() == Requests.Kind.CHAT ? "chat.completion.chunk" : "text_completion");
          u.putArray("choices");
          u.set("usage", usage(promptTokens, n));
          event(u);
        }
      }
      write(DONE);
    }

    private void event(ObjectNode node) {
      byte[] json;
      try {
        json = Requests.JSON.writeValueAsBytes(node);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      byte[] ev = new byte[json.length + 8];
      System.arraycopy("data: ".getBytes(StandardCharsets.US_ASCII), 0, ev, 0, 6);
      System.arraycopy(json, 0, ev, 6, json.length);
      ev[ev.length - 2] = '\n';
      ev[ev.length - 1] = '\n';
      write(ev);
    }

    private void write(byte[] b) {
      try {
        out.write(b);
        out.flush();
      } catch (IOException e) {
        throw new ClientGone(e);
      }
    }
  }

  /** One HTTP exchange and the status it was answered with. */
  private static final class Exchange {
    final HttpExchange ex;
    int status = 500;
    boolean sent;
    OutputStream stream;

    Exchange(HttpExchange ex) {
      this.ex = ex;
    }

    void json(int code, ObjectNode body) {
      try {
        send(code, "application/json", Requests.JSON.writeValueAsBytes(body));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    void send(int code, String contentType, byte[] body) {
      status = code;
      sent = true;
      ex.getResponseHeaders().set("Content-Type", contentType);
      try {
        ex.sendResponseHeaders(code, body.length == 0 ? -1 : body.length);
        if (body.length > 0) {
          try (OutputStream os = ex.getResponseBody()) {
            os.write(body);
          }
        }
      } catch (IOException e) {
        throw new ClientGone(e);
      }
    }

    /** Answers {@code e} as a JSON error, or (once a stream has started) as a final error event. */
    void error(ApiException e, int retryAfter) {
      ObjectNode err = NODES.objectNode();
      ObjectNode inner = err.putObject("error").put("message", e.getMessage()).put("type", e.type);
      if (e.param == null) {
        inner.putNull("param");
      } else {
        inner.put("param", e.param);
      }
      inner.put("code", e.code);
      try {
        if (sent) {
          // A stream has started with 200: the error becomes its last event.
          status = e.status;
          if (stream != null) {
            stream.write(("data: " + Requests.JSON.writeValueAsString(err) + "\n\n").getBytes(StandardCharsets.UTF_8));
            stream.flush();
          }
          return;
        }
        if (e.status == 429 || e.status == 503) {
          ex.getResponseHeaders().set("Retry-After", Integer.toString(retryAfter));
        }
        json(e.status, err);
      } catch (RuntimeException | IOException ignored) {
        // The client is gone; nothing more can be told.
      }
    }
  }
}
