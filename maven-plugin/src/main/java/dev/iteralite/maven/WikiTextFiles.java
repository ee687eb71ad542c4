package dev.iteralite.maven;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Finds a WikiText-2 split in a directory under either common name: {@code train.txt} (pytorch
 * examples) or {@code wiki.train.tokens} (the official archive).
 */
final class WikiTextFiles {
  private WikiTextFiles() {}

  /** The file of {@code split} ({@code train}, {@code valid} or {@code test}) in {@code dir}. */
  static Path split(File dir, String split, String element) throws ConfigurationProblem {
    if (dir == null || !dir.isDirectory()) {
      throw new ConfigurationProblem(element, dir + " is not a directory",
          "point <" + element + "> at the WikiText-2 folder (with " + split + ".txt or wiki." + split + ".tokens)");
    }
    for (String n : new String[] {split + ".txt", "wiki." + split + ".tokens"}) {
      Path p = dir.toPath().resolve(n);
      if (Files.isRegularFile(p)) {
        return p;
      }
    }
    throw new ConfigurationProblem(element, dir + " has neither " + split + ".txt nor wiki." + split + ".tokens",
        "point <" + element + "> at the WikiText-2 folder");
  }
}
