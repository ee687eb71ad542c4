package dev.iteralite.serve;

import java.time.Duration;
import java.util.Optional;

/**
 * Settings of an {@link InferenceServer}: where it listens, how many generations run at once and
 * wait in line, and the limits every request is held to.
 *
 * @param host address to bind (127.0.0.1 by default: only this machine can connect)
 * @param port TCP port (0 picks a free one; see {@link InferenceServer#port()})
 * @param maxConcurrent generations that run at the same time (each with its own decoding state)
 * @param queueCapacity admitted requests that may wait for a generation slot; beyond that: 429
 * @param maxBodyBytes largest request body; beyond that: 413
 * @param maxPromptTokens longest prompt after tokenisation; beyond that: 400 naming {@code prompt}
 * @param maxTokens largest {@code max_tokens} a request may ask for; beyond that: 400
 * @param defaultMaxTokens {@code max_tokens} of a request that does not give one
 * @param requestTimeout longest time from arrival to the end of the response: generating longer ends
 *     the text early ({@code time_limit})
 * @param queueTimeout longest wait for a generation slot (within the request time); beyond that: 503
 * @param retryAfterSeconds the {@code Retry-After} value sent with 429 and 503
 * @param apiKey when present, every endpoint but {@code /health} needs {@code Authorization: Bearer <key>}
 */
public record ServerConfig(
    String host,
    int port,
    int maxConcurrent,
    int queueCapacity,
    int maxBodyBytes,
    int maxPromptTokens,
    int maxTokens,
    int defaultMaxTokens,
    Duration requestTimeout,
    Duration queueTimeout,
    int retryAfterSeconds,
    Optional<String> apiKey) {

  /** Validates every field; messages name the field and the allowed range. */
  public ServerConfig {
    if (host == null || host.isBlank()) {
      throw new IllegalArgumentException("server: host must be a non-empty address, e.g. 127.0.0.1");
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("server: port must be in [0, 65535] (0 = any free port), got " + port);
    }
    atLeast("maxConcurrent", maxConcurrent, 1);
    atLeast("queueCapacity", queueCapacity, 0);
    atLeast("maxBodyBytes", maxBodyBytes, 64);
    atLeast("maxPromptTokens", maxPromptTokens, 1);
    atLeast("maxTokens", maxTokens, 1);
    if (defaultMaxTokens < 1 || defaultMaxTokens > maxTokens) {
      throw new IllegalArgumentException("server: defaultMaxTokens must be in [1, maxTokens=" + maxTokens + "], got " + defaultMaxTokens);
    }
    if (requestTimeout == null || requestTimeout.isNegative() || requestTimeout.isZero()) {
      throw new IllegalArgumentException("server: requestTimeout must be positive, got " + requestTimeout);
    }
    if (queueTimeout == null || queueTimeout.isNegative()) {
      throw new IllegalArgumentException("server: queueTimeout must be >= 0, got " + queueTimeout);
    }
    atLeast("retryAfterSeconds", retryAfterSeconds, 1);
    if (apiKey == null) {
      throw new IllegalArgumentException("server: apiKey must not be null (use Optional.empty())");
    }
    if (apiKey.isPresent() && (apiKey.get().isBlank() || !apiKey.get().chars().allMatch(c -> c > 0x20 && c < 0x7F))) {
      throw new IllegalArgumentException("server: apiKey must be non-empty printable ASCII without spaces");
    }
  }

  private static void atLeast(String name, int v, int min) {
    if (v < min) {
      throw new IllegalArgumentException("server: " + name + " must be >= " + min + ", got " + v);
    }
  }

  /** The defaults: 127.0.0.1:8000, 2 concurrent generations, 64 waiting, 1 MiB bodies, 4096 prompt tokens, max_tokens up to 2048 (default 128), 120 s per request of which at most 30 s waiting, no API key. */
  public static Builder builder() {
    return new Builder();
  }

  /** Builder of {@link ServerConfig}. */
  public static final class Builder {
    private String host = "127.0.0.1";
    private int port = 8000;
    private int maxConcurrent = 2;
    private int queueCapacity = 64;
    private int maxBodyBytes = 1 << 20;
    private int maxPromptTokens = 4096;
    private int maxTokens = 2048;
    private Integer defaultMaxTokens;
    private Duration requestTimeout = Duration.ofSeconds(120);
    private Duration queueTimeout = Duration.ofSeconds(30);
    private int retryAfterSeconds = 1;
    private Optional<String> apiKey = Optional.empty();

    private Builder() {}

    /** Address to bind. */
    public Builder host(String v) {
      host = v;
      return this;
    }

    /** TCP port (0 = any free port). */
    public Builder port(int v) {
      port = v;
      return this;
    }

    /** Generations running at once. */
    public Builder maxConcurrent(int v) {
      maxConcurrent = v;
      return this;
    }

    /** Requests that may wait for a slot. */
    public Builder queueCapacity(int v) {
      queueCapacity = v;
      return this;
    }

    /** Largest request body in bytes. */
    public Builder maxBodyBytes(int v) {
      maxBodyBytes = v;
      return this;
    }

    /** Longest prompt in tokens. */
    public Builder maxPromptTokens(int v) {
      maxPromptTokens = v;
      return this;
    }

    /** Largest {@code max_tokens}. */
    public Builder maxTokens(int v) {
      maxTokens = v;
      return this;
    }

    /** {@code max_tokens} when a request gives none (default: 128, or {@code maxTokens} if smaller). */
    public Builder defaultMaxTokens(int v) {
      defaultMaxTokens = v;
      return this;
    }

    /** Longest time per request. */
    public Builder requestTimeout(Duration v) {
      requestTimeout = v;
      return this;
    }

    /** Longest wait for a generation slot. */
    public Builder queueTimeout(Duration v) {
      queueTimeout = v;
      return this;
    }

    /** {@code Retry-After} seconds of 429 and 503 answers. */
    public Builder retryAfterSeconds(int v) {
      retryAfterSeconds = v;
      return this;
    }

    /** Bearer token every endpoint but {@code /health} requires ({@code null} = none). */
    public Builder apiKey(String v) {
      apiKey = Optional.ofNullable(v);
      return this;
    }

    /** The validated config. */
    public ServerConfig build() {
      return new ServerConfig(host, port, maxConcurrent, queueCapacity, maxBodyBytes, maxPromptTokens, maxTokens,
          defaultMaxTokens != null ? defaultMaxTokens : Math.min(128, maxTokens), requestTimeout, queueTimeout, retryAfterSeconds, apiKey);
    }
  }
}
