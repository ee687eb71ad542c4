package dev.iteralite.bench;

import java.util.Objects;

/**
 * One model's benchmark figures: size, analytic work, throughput with its spread over rounds,
 * per-token latency, memory, CPU use, quality (when evaluation data was given) and energy.
 * Unknown numbers are NaN (doubles) or -1 (counts); the JSON report writes them as {@code null}.
 *
 * @param name label
 * @param architecture {@code itera-lite}, {@code transformer}, ...
 * @param params number of weights
 * @param bytes bytes of the weights
 * @param flopsPerToken analytic FLOPs per token at {@code context} ({@link FlopCounter}); -1 if unknown
 * @param promptTokens P: prompt length of each prefill
 * @param decodeTokens D: decode steps per round, measured at contexts P+1 .. P+D
 * @param context P + D, the context length the decode figures reach
 * @param warmupRounds rounds run before measuring
 * @param prefill prefill tokens/s over the measured rounds (P / prefill time, one sample per round)
 * @param decode decode tokens/s over the measured rounds (D / time of the D steps)
 * @param latencyP50Ms median per-token decode latency over every measured step, ms
 * @param latencyP95Ms 95th-percentile per-token decode latency, ms
 * @param peakRssBytes VmHWM from /proc/self/status after the rounds, -1 if unreadable
 * @param peakRssScope what the peak covers: {@code benchmark} (reset before the rounds), {@code
 *     process} (whole process lifetime: the reset failed) or why it is unreadable
 * @param peakNativeBytes largest live native-tensor memory seen between decoding calls
 * @param cpuUtilisation process CPU time / (wall time × logical cores) over the measured rounds; NaN if unknown
 * @param perplexity token-level perplexity on the evaluation data; NaN without it
 * @param bitsPerByte bits per UTF-8 byte on the evaluation data; NaN without data or byte count
 * @param evalTokens targets scored for perplexity (0 without data)
 * @param energy energy of the measured rounds, or why there is none
 */
public record ModelResult(
    String name,
    String architecture,
    long params,
    long bytes,
    long flopsPerToken,
    int promptTokens,
    int decodeTokens,
    int context,
    int warmupRounds,
    Spread prefill,
    Spread decode,
    double latencyP50Ms,
    double latencyP95Ms,
    long peakRssBytes,
    String peakRssScope,
    long peakNativeBytes,
    double cpuUtilisation,
    double perplexity,
    double bitsPerByte,
    long evalTokens,
    EnergyResult energy) {

  /** Rejects nulls. */
  public ModelResult {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(architecture, "architecture");
    Objects.requireNonNull(prefill, "prefill");
    Objects.requireNonNull(decode, "decode");
    Objects.requireNonNull(peakRssScope, "peakRssScope");
    Objects.requireNonNull(energy, "energy");
  }

  /** Median prefill tokens per second. */
  public double prefillTokensPerSec() {
    return prefill.median();
  }

  /** Median decode tokens per second. */
  public double decodeTokensPerSec() {
    return decode.median();
  }

  /** Achieved decode GFLOP/s: {@code flopsPerToken × decode tokens/s / 1e9}; NaN when FLOPs are unknown. */
  public double decodeGflops() {
    return flopsPerToken < 0 ? Double.NaN : flopsPerToken * decode.median() / 1e9;
  }
}
