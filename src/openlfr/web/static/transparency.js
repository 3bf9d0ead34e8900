/* Draws the transparency dashboard's charts from the figures embedded in the page (the
   same numbers as its tables, which remain the version that needs no JavaScript).
   Chart.js is served from this site: static/vendor/chart.umd.min.js. */
(function () {
  "use strict";
  var source = document.getElementById("figures-data");
  if (!source || typeof Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  var colours = {
    confirmed: "#1d6b2f", false_alerts: "#a3231f", unclear: "#b7791f", pending: "#8a8f98",
    faces: "#1f4e8c", rate: "#a3231f"
  };
  Chart.defaults.animation = false;
  Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', sans-serif";

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) {
      return;
    }
    new Chart(canvas, config);
    canvas.setAttribute("data-drawn", "true");
  }

  function series(label, key, colour) {
    return { label: label, data: data[key], backgroundColor: colour, borderColor: colour,
             stack: "alerts" };
  }

  draw("chart-alerts", {
    type: "bar",
    data: {
      labels: data.months,
      datasets: [series("Confirmed", "confirmed", colours.confirmed),
                 series("False alerts", "false_alerts", colours.false_alerts),
                 series("Unclear", "unclear", colours.unclear),
                 series("Not yet adjudicated", "pending", colours.pending)]
    },
    options: {
      responsive: true,
      scales: { x: { stacked: true },
                y: { stacked: true, beginAtZero: true, ticks: { precision: 0 },
                     title: { display: true, text: "Alerts" } } }
    }
  });

  draw("chart-faces", {
    type: "bar",
    data: {
      labels: data.months,
      datasets: [
        { type: "bar", label: "Faces passing (tracks)", data: data.tracks, yAxisID: "faces",
          backgroundColor: colours.faces, borderColor: colours.faces, order: 1 },
        { type: "line", label: "False alerts per 1,000 faces passing",
          data: data.false_alerts_per_1000_tracks, yAxisID: "rate", spanGaps: false,
          backgroundColor: colours.rate, borderColor: colours.rate, order: 0 }
      ]
    },
    options: {
      responsive: true,
      scales: {
        faces: { position: "left", beginAtZero: true, ticks: { precision: 0 },
                 title: { display: true, text: "Faces passing" } },
        rate: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false },
                title: { display: true, text: "False alerts per 1,000 faces passing" } }
      }
    }
  });
}());
