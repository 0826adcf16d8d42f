import { describe, expect, it } from "vitest";
import type { Environment } from "../../bindings/Environment";
import {
  bakeInput,
  bakeText,
  checkEnvDraft,
  checkEnvName,
  draftOf,
  NEW_ENV_DRAFT,
  parseBake,
  updateText,
} from "./settings";

describe("bake times", () => {
  it("shows them as people write them", () => {
    expect(bakeText(0)).toBe("0");
    expect(bakeText(3600)).toBe("1 h");
    expect(bakeText(86_400)).toBe("24 h");
    expect(bakeText(5400)).toBe("1 h 30 min");
    expect(bakeText(1800)).toBe("30 min");
    expect(bakeText(45)).toBe("45 s");
    expect(bakeText(7 * 86_400 + 3600)).toBe("7 d 1 h");
  });

  it("edits them as hours and minutes", () => {
    expect(bakeInput(0)).toBe("0");
    expect(bakeInput(86_400)).toBe("24h");
    expect(bakeInput(5400)).toBe("1h 30m");
    expect(bakeInput(2700)).toBe("45m");
  });

  it("reads hours and minutes in the usual spellings", () => {
    const s = (t: string) => {
      const r = parseBake(t);
      return "seconds" in r ? r.seconds : r.error;
    };
    expect(s("24h")).toBe(86_400);
    expect(s("1h 30m")).toBe(5400);
    expect(s("1h30m")).toBe(5400);
    expect(s("90m")).toBe(5400);
    expect(s("90 min")).toBe(5400);
    expect(s("1:30")).toBe(5400);
    expect(s("1.5")).toBe(5400);
    expect(s("2")).toBe(7200);
    expect(s("0")).toBe(0);
    expect(s(" 2 hours ")).toBe(7200);
    expect(s("")).toContain("hours and minutes");
    expect(s("h")).toContain("hours and minutes");
    expect(s("tomorrow")).toContain("hours and minutes");
    expect(s("10000h")).toBe("at most a year");
  });

  it("round-trips what the field shows", () => {
    for (const seconds of [0, 60, 3600, 5400, 86_400, 90_000]) {
      expect(parseBake(bakeInput(seconds))).toEqual({ seconds });
    }
  });
});

describe("the environment form", () => {
  const prod: Environment = {
    name: "prod",
    quorum: 2,
    canary: true,
    bake_time_seconds: 86_400,
    min_samples: 100,
    created_at: "2026-01-01T00:00:00Z",
  };

  it("sends what the row holds", () => {
    expect(checkEnvDraft(draftOf(prod))).toEqual({
      ok: true,
      form: { quorum: 2, canary: true, bake_time_seconds: 86_400, min_samples: 100 },
    });
    expect(checkEnvDraft(NEW_ENV_DRAFT)).toMatchObject({
      ok: true,
      form: { bake_time_seconds: 3600 },
    });
  });

  it("needs a quorum and samples of at least 1, and a bake time", () => {
    const r = checkEnvDraft({ quorum: "0", canary: false, bake: "soon", samples: "1.5" });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.problems.quorum).toBeDefined();
      expect(r.problems.samples).toBeDefined();
      expect(r.problems.bake).toBeDefined();
    }
    expect(checkEnvDraft({ ...NEW_ENV_DRAFT, quorum: "" }).ok).toBe(false);
    expect(checkEnvDraft({ ...NEW_ENV_DRAFT, samples: "-3" }).ok).toBe(false);
  });

  it("checks a new name as the back end does", () => {
    expect(checkEnvName("eu-prod_2")).toBeUndefined();
    expect(checkEnvName(" ")).toBeDefined();
    expect(checkEnvName("Prod")).toBeDefined();
    expect(checkEnvName("2prod")).toBeDefined();
    expect(checkEnvName("eu prod")).toBeDefined();
  });
});

describe("a check for updates", () => {
  it("says whether a version is offered", () => {
    const base = {
      current_version: "0.1.0",
      available: false,
      version: null,
      notes: null,
      date: null,
    };
    expect(updateText(base)).toBe("Gavel 0.1.0 is up to date");
    expect(updateText({ ...base, available: true, version: "0.2.0", notes: "Faster lint" })).toBe(
      "Version 0.2.0 is available: Faster lint",
    );
    expect(updateText({ ...base, available: true, version: "0.2.0" })).toBe(
      "Version 0.2.0 is available: no release notes",
    );
  });
});
