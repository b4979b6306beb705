// The favicon with the unread total drawn on it (a number, "99+" above 99), so a tab in the
// background shows that something is new; the plain icon when nothing is unread.

const link = document.querySelector('link[rel="icon"]');
const plainHref = link ? link.href : "";
const plainType = link ? link.type : "";
const SIZE = 64;

let shown = 0;
let image = null; // the plain icon, loaded once

export function show(count) {
  if (!link || count === shown) return;
  shown = count;
  if (!count) {
    link.href = plainHref;
    link.type = plainType;
    delete link.dataset.count;
    return;
  }
  if (!image) {
    image = new Image();
    image.addEventListener("load", () => draw(shown));
    image.src = plainHref;
    return;
  }
  if (image.complete) draw(count);
}

function draw(count) {
  if (!count || !image) return;
  const canvas = document.createElement("canvas");
  canvas.width = SIZE;
  canvas.height = SIZE;
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  ctx.drawImage(image, 0, 0, SIZE, SIZE);
  const text = count > 99 ? "99+" : String(count);
  const width = Math.max(36, 14 + text.length * 17);
  ctx.fillStyle = "#d92d20";
  ctx.beginPath();
  ctx.roundRect(SIZE - width, 0, width, 36, 18);
  ctx.fill();
  ctx.fillStyle = "#ffffff";
  ctx.font = "bold 30px system-ui, sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillText(text, SIZE - width / 2, 19);
  link.type = "image/png";
  link.href = canvas.toDataURL("image/png");
  link.dataset.count = text;
}
