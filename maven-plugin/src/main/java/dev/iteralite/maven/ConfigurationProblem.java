package dev.iteralite.maven;

/**
 * A mistake in a goal's configuration, naming the XML element at fault and how to fix it; the
 * Mojos turn it into a {@code MojoExecutionException} with exactly this message.
 */
final class ConfigurationProblem extends Exception {
  private static final long serialVersionUID = 1L;

  private final String element;
  private final String problem;
  private final String fix;

  ConfigurationProblem(String element, String problem, String fix) {
    super("<" + element + ">: " + problem + "; " + fix);
    this.element = element;
    this.problem = problem;
    this.fix = fix;
  }

  /** The XML element at fault (without angle brackets), e.g. {@code preset} or {@code models/model[2]/preset}. */
  String element() {
    return element;
  }

  /** The same problem located inside {@code parent}, e.g. {@code models/model[2]}. */
  ConfigurationProblem within(String parent) {
    return new ConfigurationProblem(parent + "/" + element, problem, fix);
  }
}
