// Grafana's panel units as value formatters: the same rules as chaos/dashboards/units.py
// (the PNG renderer's), held to them by tests/console/test_browser.py.
(function () {
  "use strict";
  const SI = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];
  const BINARY = [[2 ** 40, "TiB"], [2 ** 30, "GiB"], [2 ** 20, "MiB"], [2 ** 10, "KiB"]];
  const DECIMAL_BYTES = [[1e12, "TB"], [1e9, "GB"], [1e6, "MB"], [1e3, "kB"]];

  // Python's "%.3g": three significant digits, no trailing zeros, exponent past 1e-5.
  function g3(value) {
    const text = value.toPrecision(3);
    if (text.includes("e")) {
      let [mantissa, exponent] = text.split("e");
      if (mantissa.includes(".")) mantissa = mantissa.replace(/\.?0+$/, "");
      const sign = exponent[0] === "-" ? "-" : "+";
      const digits = exponent.replace(/^[+-]/, "").padStart(2, "0");
      return `${mantissa}e${sign}${digits}`;
    }
    return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
  }

  function number(value) {
    if (value === 0) return "0";
    return Math.abs(value) < 1000 ? g3(value) : Math.round(value).toFixed(0);
  }

  function scaled(value, scales, base) {
    for (const [factor, suffix] of scales) {
      if (Math.abs(value) >= factor) return `${number(value / factor)} ${suffix}`;
    }
    return number(value) + (base ? " " + base : "");
  }

  const short = (v) => scaled(v, SI, "").replace(/ /g, "");

  function seconds(value) {
    const m = Math.abs(value);
    if (m === 0) return "0 s";
    if (m < 1e-3) return `${number(value * 1e6)} µs`;
    if (m < 1) return `${number(value * 1e3)} ms`;
    if (m < 60) return `${number(value)} s`;
    if (m < 3600) return `${number(value / 60)} min`;
    return `${number(value / 3600)} h`;
  }

  const perSecond = (suffix) => (v) => `${short(v)} ${suffix}`;

  const FORMATTERS = {
    s: seconds,
    ms: (v) => seconds(v / 1000),
    bytes: (v) => scaled(v, BINARY, "B"),
    decbytes: (v) => scaled(v, DECIMAL_BYTES, "B"),
    Bps: (v) => scaled(v, DECIMAL_BYTES, "B") + "/s",
    binBps: (v) => scaled(v, BINARY, "B") + "/s",
    percent: (v) => `${number(v)}%`,
    percentunit: (v) => `${number(v * 100)}%`,
    reqps: perSecond("req/s"),
    ops: perSecond("ops/s"),
    cps: perSecond("c/s"),
    short: short,
    none: number,
  };

  function formatValue(value, unit) {
    if (value === null || value === undefined) return "—";
    if (Number.isNaN(value)) return "NaN";
    if (!Number.isFinite(value)) return value > 0 ? "+Inf" : "-Inf";
    return (FORMATTERS[unit] || short)(value);
  }

  window.faultyardUnits = { formatValue };
})();
