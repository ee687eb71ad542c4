package dev.iteralite.model;

import dev.iteralite.quant.WeightFormat;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Which {@link WeightFormat} each matrix of a compressed model uses: ordered rules (a regular
 * expression over the matrix name, first match wins) and a fallback, e.g. embeddings INT8, MoE
 * experts Q4_0, Mamba projections kept F32:
 *
 * <pre>
 * PrecisionPlan.builder(WeightFormat.Q8_0)
 *     .rule("embed\\.weight", WeightFormat.INT8)
 *     .rule(".*\\.moe\\..*", WeightFormat.Q4_0)
 *     .rule(".*\\.mixer\\..*", WeightFormat.F32)
 *     .build();
 * </pre>
 *
 * Matrix names are those of {@link QuantizedModel#matrixNames}: {@code embed.weight} (the tied
 * head), {@code blocks.i.mixer.{in,x,dt,out}_proj.weight}, {@code blocks.i.ffn.{w1,w3,w2}.weight}
 * and {@code blocks.i.moe.{w1,w3,w2}.e} (expert e). Vectors (norms, conv taps, A_log, D, dt bias)
 * and MoE routers are never compressed.
 *
 * @param rules the rules in order
 * @param fallback the format of names no rule matches
 */
public record PrecisionPlan(List<Rule> rules, WeightFormat fallback) {

  /**
   * One rule: names matching {@code pattern} (the whole name) use {@code format}.
   *
   * @param pattern a Java regular expression
   * @param format the format
   */
  public record Rule(String pattern, WeightFormat format) {
    /** Validates the pattern. */
    public Rule {
      Objects.requireNonNull(pattern, "pattern");
      Objects.requireNonNull(format, "format");
      try {
        Pattern.compile(pattern);
      } catch (PatternSyntaxException e) {
        throw new IllegalArgumentException("PrecisionPlan: rule pattern '" + pattern + "' is not a regular expression: "
            + e.getDescription());
      }
    }

    boolean matches(String name) {
      return Pattern.matches(pattern, name);
    }
  }

  /** Validates and copies the rules. */
  public PrecisionPlan {
    Objects.requireNonNull(fallback, "fallback");
    rules = List.copyOf(Objects.requireNonNull(rules, "rules"));
  }

  /** Every matrix in {@code format}. */
  public static PrecisionPlan uniform(WeightFormat format) {
    return new PrecisionPlan(List.of(), format);
  }

  /** A builder whose unmatched names use {@code fallback}. */
  public static Builder builder(WeightFormat fallback) {
    return new Builder(fallback);
  }

  /** The format of matrix {@code name}. */
  public WeightFormat formatOf(String name) {
    for (Rule r : rules) {
      if (r.matches(name)) {
        return r.format();
      }
    }
    return fallback;
  }

  /** A short description, e.g. {@code q8_0} or {@code q8_0 + 2 rules}. */
  public String describe() {
    return rules.isEmpty() ? fallback.id() : fallback.id() + " + " + rules.size() + " rule" + (rules.size() == 1 ? "" : "s");
  }

  /** Collects rules in order. */
  public static final class Builder {
    private final WeightFormat fallback;
    private final List<Rule> rules = new ArrayList<>();

    private Builder(WeightFormat fallback) {
      this.fallback = Objects.requireNonNull(fallback, "fallback");
    }

    /** Names matching {@code pattern} (the whole name) use {@code format}; earlier rules win. */
    public Builder rule(String pattern, WeightFormat format) {
      rules.add(new Rule(pattern, format));
      return this;
    }

    /** Exactly the matrix {@code name} uses {@code format}. */
    public Builder exact(String name, WeightFormat format) {
      return rule(Pattern.quote(name), format);
    }

    public PrecisionPlan build() {
      return new PrecisionPlan(rules, fallback);
    }
  }
}
