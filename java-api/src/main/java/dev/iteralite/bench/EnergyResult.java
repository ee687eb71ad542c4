package dev.iteralite.bench;

import java.util.List;
import java.util.Objects;

/**
 * Energy measured over a benchmark interval from RAPL counters, or the exact reason there is no
 * figure: when {@code available} is false every number is NaN and {@code reason} says why (the
 * report prints it instead of inventing a value).
 *
 * @param available whether the counters were read at both ends of the interval
 * @param joules energy of all package domains together over the interval
 * @param tokens tokens processed in the interval (0 when not counted)
 * @param seconds wall time of the interval
 * @param domains the RAPL domains summed, e.g. {@code intel-rapl:0 (package-0)}
 * @param reason why no figure exists; empty when {@code available}
 */
public record EnergyResult(boolean available, double joules, long tokens, double seconds, List<String> domains,
    String reason) {

  /** Copies the domain list; an unavailable result must carry a reason. */
  public EnergyResult {
    domains = List.copyOf(domains);
    Objects.requireNonNull(reason, "reason");
    if (!available && reason.isBlank()) {
      throw new IllegalArgumentException("EnergyResult: an unavailable result must say why");
    }
    if (tokens < 0) {
      throw new IllegalArgumentException("EnergyResult: tokens must be >= 0, got " + tokens);
    }
  }

  /** A result saying why energy could not be measured. */
  public static EnergyResult unavailable(String reason) {
    return new EnergyResult(false, Double.NaN, 0, Double.NaN, List.of(), reason);
  }

  /** Joules per token, NaN when unavailable or no tokens were counted. */
  public double joulesPerToken() {
    return available && tokens > 0 ? joules / tokens : Double.NaN;
  }

  /** Mean power in watts over the interval, NaN when unavailable. */
  public double watts() {
    return available && seconds > 0 ? joules / seconds : Double.NaN;
  }
}
