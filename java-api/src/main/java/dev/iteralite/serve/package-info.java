/**
 * The HTTP inference server: {@link dev.iteralite.serve.InferenceServer} serves named models over
 * {@code POST /generate}, OpenAI-compatible {@code /v1/completions} and {@code /v1/chat/completions}
 * (streaming as server-sent events), {@code /v1/models}, {@code /health} and Prometheus {@code
 * /metrics}, with a bounded queue, per-request limits and strict request validation; {@link
 * dev.iteralite.serve.ServeMain} is its command line ({@code java -jar itera-serve.jar}).
 */
package dev.iteralite.serve;
