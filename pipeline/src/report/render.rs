//! Drawing the report: each chart as an inline SVG (plotters' SVG backend, which writes text as
//! `<text>` for the browser to set, so no font file is needed), and the page from a minijinja
//! template. Nothing here touches the database.

use std::collections::HashMap;
use std::fmt::Write as _;

use anyhow::{Context, Result};
use chrono::{Datelike, Duration, NaiveDate};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{SegmentValue, SegmentedCoord};
use plotters::coord::types::RangedCoordi32;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;

use super::data::{Cohort, DayState, GAP_BINS, RECENT_LOADS, Reason, ReportData, RunEntry, Totals};
use crate::money::{money, thousands};

/// Width of every chart, in CSS pixels.
const WIDTH: u32 = 960;
/// plotters' SVG backend writes `font-size` as the given size / 1.24; this gives sizes in pixels.
const PX: f64 = 1.24;
const FONT: &str = "sans-serif";

const INK: RGBColor = RGBColor(33, 37, 41);
const MUTED: RGBColor = RGBColor(108, 117, 125);
const GRID: RGBColor = RGBColor(233, 236, 239);
const BLUE: RGBColor = RGBColor(31, 119, 180);
const LIGHT_BLUE: RGBColor = RGBColor(158, 197, 227);
const ORANGE: RGBColor = RGBColor(230, 126, 34);
const LIGHT_ORANGE: RGBColor = RGBColor(245, 190, 140);
const DARK_ORANGE: RGBColor = RGBColor(204, 92, 0);
const GREEN: RGBColor = RGBColor(46, 160, 67);
const RED: RGBColor = RGBColor(214, 39, 40);
const AMBER: RGBColor = RGBColor(240, 173, 40);
const GREY: RGBColor = RGBColor(173, 181, 189);
const FAINT: RGBColor = RGBColor(248, 249, 250);

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// One chart of the page.
#[derive(Debug, Clone)]
pub struct Chart {
    /// The `id` of its element in the page.
    pub id: &'static str,
    /// Its title.
    pub title: String,
    /// One line saying what it shows.
    pub caption: String,
    /// The drawing, or the sentence that stands for it.
    pub body: Body,
}

/// What a chart shows.
#[derive(Debug, Clone)]
pub enum Body {
    /// A drawing: the SVG markup.
    Svg(String),
    /// One sentence instead of a drawing that would be an empty box.
    Sentence(String),
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "the colours are constants taken by reference everywhere in plotters' style"
)]
fn text_style(px: f64, color: &RGBColor) -> TextStyle<'static> {
    (FONT, px * PX).into_font().color(color)
}

/// Draws on a fresh white SVG of `height` pixels and returns its markup.
fn svg(height: u32, draw: impl FnOnce(&Area) -> Result<()>) -> Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
    }
    Ok(out)
}

/// A centred message instead of a chart, when there is nothing to draw.
fn nothing(root: &Area, message: &str) -> Result<()> {
    let (w, h) = root.dim_in_pixel();
    root.draw(&Text::new(
        message.to_owned(),
        (w as i32 / 2, h as i32 / 2),
        text_style(15.0, &MUTED).pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;
    Ok(())
}

/// A region of a chart that names its figures when the pointer rests on it (an SVG `<title>`,
/// which browsers show as a tooltip): for what the drawing has no room to print in full.
struct Hover {
    /// Its upper left corner, in the chart's pixels.
    at: (i32, i32),
    /// Its width and height.
    size: (i32, i32),
    /// What it says.
    title: String,
}

/// `text` with the characters that mean something in XML escaped.
fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// Lays `hovers` over a drawn chart: transparent rectangles on top of everything, each with its
/// `<title>` (painted with zero opacity, so that the pointer finds them).
fn with_hovers(mut svg: String, hovers: &[Hover]) -> String {
    if hovers.is_empty() {
        return svg;
    }
    let mut layer = String::from("<g fill=\"#000\" fill-opacity=\"0\">\n");
    for hover in hovers {
        let _ = writeln!(
            layer,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}</title></rect>",
            hover.at.0,
            hover.at.1,
            hover.size.0,
            hover.size.1,
            escape_xml(&hover.title)
        );
    }
    layer.push_str("</g>\n");
    let end = svg.rfind("</svg>").unwrap_or(svg.len());
    svg.insert_str(end, &layer);
    svg
}

/// Money with two decimals and thousands separators: "1,234,567.89".
pub fn money_text(value: Decimal) -> String {
    let text = money(value);
    let (whole, cents) = text.split_once('.').unwrap_or((&text, "00"));
    let negative = whole.starts_with('-');
    let whole: i64 = whole.trim_start_matches('-').parse().unwrap_or_default();
    format!(
        "{}{}.{cents}",
        if negative { "-" } else { "" },
        thousands(whole)
    )
}

/// An axis value in few characters: 950, 12k, 1.5M.
fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if a >= 1e3 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// The width in pixels of `text` set at `px` pixels, estimated from the widths of a wide sans-serif
/// (`DejaVu` Sans, the usual `sans-serif` of Linux browsers), so that a text said to fit does fit.
fn text_width(text: &str, px: f64) -> f64 {
    text.chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '\'' | '|' => 0.28,
            ' ' | '.' | ',' | ':' | ';' | '!' => 0.32,
            'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '"' | '-' => 0.42,
            'm' | 'w' | 'M' | 'W' | '%' | '…' | '—' => 0.98,
            c if c.is_ascii_uppercase() => 0.72,
            c if c.is_ascii_digit() => 0.64,
            _ => 0.62,
        })
        .sum::<f64>()
        * px
}

fn days_of(start: NaiveDate, end: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    start.iter_days().take_while(move |d| *d <= end)
}

fn monday_of(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

fn f64_of(value: Decimal) -> f64 {
    value.to_f64().unwrap_or_default()
}

fn legend_box(color: RGBColor) -> impl Fn((i32, i32)) -> Rectangle<(i32, i32)> {
    move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
}

/// A date on a time axis: the month on a long axis (its ticks fall on months), else the day.
fn date_label(day: NaiveDate, long: bool) -> String {
    day.format(if long { "%Y-%m" } else { "%Y-%m-%d" })
        .to_string()
}

/// Draws a legend of lines (colour, name) in one row from `(x, y)` (the row's vertical centre),
/// outside any plot area.
fn legend_row(root: &Area, (mut x, y): (i32, i32), entries: &[(RGBColor, &str)]) -> Result<()> {
    let style = text_style(12.0, &INK);
    for (color, name) in entries {
        root.draw(&PathElement::new(
            vec![(x, y), (x + 18, y)],
            color.stroke_width(2),
        ))?;
        root.draw(&Text::new(
            (*name).to_owned(),
            (x + 24, y),
            style.pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        x += 24 + text_width(name, 12.0).ceil() as i32 + 16;
    }
    Ok(())
}

/// The trailing `days`-day moving average of a daily series (from its `days`-th day on).
fn moving_average(series: &[(NaiveDate, f64)], days: usize) -> Vec<(NaiveDate, f64)> {
    series
        .windows(days)
        .map(|w| {
            (
                w[days - 1].0,
                w.iter().map(|(_, v)| v).sum::<f64>() / days as f64,
            )
        })
        .collect()
}

/// The daily chart's legend: the averages only when there are some (they start on the seventh
/// day of the range).
fn daily_legend(averages: bool) -> Vec<(RGBColor, &'static str)> {
    [
        (LIGHT_BLUE, "revenue per day", true),
        (BLUE, "revenue, 7-day moving average", averages),
        (LIGHT_ORANGE, "orders per day", true),
        (DARK_ORANGE, "orders, 7-day moving average", averages),
    ]
    .into_iter()
    .filter(|entry| entry.2)
    .map(|(color, name, _)| (color, name))
    .collect()
}

/// Chart 1: revenue per day with its 7-day moving average above, orders per day below, on one
/// time axis. Two panels rather than two y axes on one plot, so the lines never cross each other.
fn daily_revenue(data: &ReportData) -> Result<String> {
    const LEGEND: u32 = 30;
    const REVENUE_PANEL: u32 = 250;
    const ORDERS_PANEL: u32 = 170;
    const HEIGHT: u32 = LEGEND + REVENUE_PANEL + ORDERS_PANEL;
    // Both panels leave the same room left and right, so that a day is at the same x in both.
    const LEFT: u32 = 70;
    const MARGIN: u32 = 12;
    const RIGHT: u32 = 24;
    let (start, end) = (data.range.start, data.range.end);
    if data.daily.is_empty() {
        return svg(HEIGHT, |root| {
            nothing(root, "no computed rows in this range")
        });
    }
    let by_day: HashMap<NaiveDate, (f64, f64)> = data
        .daily
        .iter()
        .map(|d| (d.date, (f64_of(d.revenue.0), d.orders as f64)))
        .collect();
    let days: Vec<NaiveDate> = days_of(start, end).collect();
    let revenue: Vec<(NaiveDate, f64)> = days
        .iter()
        .map(|d| (*d, by_day.get(d).map_or(0.0, |v| v.0)))
        .collect();
    let orders: Vec<(NaiveDate, f64)> = days
        .iter()
        .map(|d| (*d, by_day.get(d).map_or(0.0, |v| v.1)))
        .collect();
    let revenue_average = moving_average(&revenue, 7);
    let orders_average = moving_average(&orders, 7);
    let top_revenue = revenue.iter().map(|r| r.1).fold(1.0, f64::max) * 1.08;
    let top_orders = orders.iter().map(|r| r.1).fold(1.0, f64::max) * 1.1;
    let x_end = end.max(start + Duration::days(1));
    let long = (end - start).num_days() > 120;
    svg(HEIGHT, |root| {
        let (legend, panels) = root.split_vertically(LEGEND);
        let (upper, lower) = panels.split_vertically(REVENUE_PANEL);
        let entries = daily_legend(!revenue_average.is_empty());
        legend_row(&legend, ((MARGIN + LEFT) as i32, 14), &entries)?;
        // The revenue panel: the time axis's grid lines, but its labels only under the orders.
        let mut chart = ChartBuilder::on(&upper)
            .margin(MARGIN)
            .margin_top(4)
            .margin_bottom(6)
            .margin_right(RIGHT)
            .x_label_area_size(0)
            .y_label_area_size(LEFT)
            .build_cartesian_2d((start..x_end).monthly(), 0f64..top_revenue)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .axis_style(MUTED)
            .x_labels(10)
            .y_labels(6)
            .x_label_formatter(&|_| String::new())
            .y_label_formatter(&|v| short(*v))
            .label_style(text_style(12.0, &INK))
            .axis_desc_style(text_style(13.0, &INK))
            .y_desc("revenue per day")
            .draw()?;
        chart.draw_series(LineSeries::new(revenue, LIGHT_BLUE.stroke_width(1)))?;
        chart.draw_series(LineSeries::new(revenue_average, BLUE.stroke_width(2)))?;
        let mut chart = ChartBuilder::on(&lower)
            .margin(MARGIN)
            .margin_top(14)
            .margin_right(RIGHT)
            .x_label_area_size(46)
            .y_label_area_size(LEFT)
            .build_cartesian_2d((start..x_end).monthly(), 0f64..top_orders)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .axis_style(MUTED)
            .x_labels(10)
            .y_labels(4)
            .x_label_formatter(&|d| date_label(*d, long))
            .y_label_formatter(&|v| short(*v))
            .label_style(text_style(12.0, &INK))
            .axis_desc_style(text_style(13.0, &INK))
            .x_desc("purchase day")
            .y_desc("orders per day")
            .draw()?;
        chart.draw_series(LineSeries::new(orders, LIGHT_ORANGE.stroke_width(1)))?;
        chart.draw_series(LineSeries::new(orders_average, DARK_ORANGE.stroke_width(2)))?;
        Ok(())
    })
}

/// Chart 2: new and returning customers per week (Monday to Sunday), stacked.
fn new_vs_returning(data: &ReportData) -> Result<String> {
    if data.daily.is_empty() {
        return svg(340, |root| nothing(root, "no computed rows in this range"));
    }
    let first = monday_of(data.range.start);
    let last = monday_of(data.range.end);
    let mut weeks: Vec<(NaiveDate, i64, i64)> = Vec::new();
    let mut week = first;
    while week <= last {
        weeks.push((week, 0, 0));
        week += Duration::days(7);
    }
    for d in &data.daily {
        let i = ((monday_of(d.date) - first).num_days() / 7) as usize;
        if let Some(w) = weeks.get_mut(i) {
            w.1 += d.new_customers;
            w.2 += d.returning_customers;
        }
    }
    let top = weeks.iter().map(|w| w.1 + w.2).max().unwrap_or(1).max(1) as f64 * 1.08;
    let x_end = last + Duration::days(7);
    let long = (x_end - first).num_days() > 120;
    svg(340, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(46)
            .y_label_area_size(70)
            .margin_right(24)
            .build_cartesian_2d((first..x_end).monthly(), 0f64..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .axis_style(MUTED)
            .x_labels(10)
            .y_labels(8)
            .x_label_formatter(&|d| date_label(*d, long))
            .y_label_formatter(&|v| short(*v))
            .label_style(text_style(12.0, &INK))
            .axis_desc_style(text_style(13.0, &INK))
            .x_desc("week (Monday to Sunday)")
            .y_desc("customers per week")
            .draw()?;
        let bar = |from: NaiveDate, low: f64, high: f64, color: RGBColor| {
            let mut r = Rectangle::new(
                [(from, low), (from + Duration::days(7), high)],
                color.filled(),
            );
            r.set_margin(0, 0, 1, 1);
            r
        };
        chart
            .draw_series(
                weeks
                    .iter()
                    .map(|&(w, new, _)| bar(w, 0.0, new as f64, BLUE)),
            )?
            .label("new: first order that day")
            .legend(legend_box(BLUE));
        chart
            .draw_series(
                weeks
                    .iter()
                    .map(|&(w, new, ret)| bar(w, new as f64, (new + ret) as f64, ORANGE)),
            )?
            .label("returning: had ordered before")
            .legend(legend_box(ORANGE));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(GRID)
            .label_font(text_style(12.0, &INK))
            .draw()?;
        Ok(())
    })
}

/// A colour between white and blue for a share in 0..=1.
fn shade(share: f64) -> RGBColor {
    let t = share.clamp(0.0, 1.0);
    let mix = |from: u8, to: u8| (f64::from(from) + (f64::from(to) - f64::from(from)) * t) as u8;
    RGBColor(mix(247, 8), mix(251, 69), mix(255, 148))
}

fn percent(share: f64) -> String {
    if share >= 0.1 {
        format!("{:.0}%", share * 100.0)
    } else {
        format!("{:.1}%", share * 100.0)
    }
}

/// Cohorts of fewer customers than this are drawn grey and struck through, and set no colour: in
/// a cohort of 4, one customer coming back is 25%, which is luck rather than retention.
pub const MIN_COHORT: i64 = 30;

/// The share at which the heatmap's colour saturates: the 98th percentile of the non-zero shares
/// after month 0 (month 0 is everyone by definition), over the cohorts of [`MIN_COHORT`] customers
/// or more, each share weighted by its cohort's size. So neither a small cohort's luck nor one
/// outlying cell washes out the rest. 0 when no such cohort has a customer back.
fn cohort_scale(cohorts: &[Cohort]) -> f64 {
    let mut shares: Vec<(f64, i64)> = cohorts
        .iter()
        .filter(|c| c.size >= MIN_COHORT)
        .flat_map(|c| {
            c.active
                .iter()
                .skip(1)
                .filter(|&&n| n > 0)
                .map(move |&n| (n as f64 / c.size as f64, c.size))
        })
        .collect();
    shares.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: i64 = shares.iter().map(|s| s.1).sum();
    let mut running = 0;
    shares
        .iter()
        .find(|(_, weight)| {
            running += weight;
            running * 100 >= total * 98
        })
        .map_or(0.0, |s| s.0)
}

/// Strikes a cell through from its lower left to its upper right corner.
fn strike(root: &Area, (x, y): (i32, i32), (w, h): (i32, i32)) -> Result<()> {
    root.draw(&PathElement::new(
        vec![(x + 1, y + h - 2), (x + w - 2, y + 1)],
        GREY.stroke_width(1),
    ))?;
    Ok(())
}

/// What a cell of the heatmap says on hover: the cohort, its size, and the month's figures.
fn cell_title(cohort: &Cohort, k: usize) -> String {
    let customers = |n: i64| {
        if n == 1 {
            "1 customer".to_owned()
        } else {
            format!("{} customers", thousands(n))
        }
    };
    if k == 0 {
        return format!(
            "{}: {} ordered for the first time in this month",
            cohort.cohort,
            customers(cohort.size)
        );
    }
    let n = cohort.active.get(k).copied().unwrap_or_default();
    format!(
        "{} cohort ({}), month {k}: {} ordered ({}){}",
        cohort.cohort,
        customers(cohort.size),
        thousands(n),
        percent(n as f64 / cohort.size.max(1) as f64),
        if cohort.size < MIN_COHORT {
            format!("; fewer than {MIN_COHORT} customers, so not coloured")
        } else {
            String::new()
        }
    )
}

/// The heatmap's legend, in a row above the cells from `left`: the colour scale up to
/// `saturation`, month 0, and the cohorts too small to be coloured.
fn cohort_legend(root: &Area, left: i32, saturation: f64) -> Result<()> {
    let (scale_x, scale_w) = (left, 140);
    for i in 0..scale_w {
        root.draw(&Rectangle::new(
            [(scale_x + i, 10), (scale_x + i + 1, 24)],
            shade(f64::from(i) / f64::from(scale_w)).filled(),
        ))?;
    }
    let legend = text_style(12.0, &INK);
    root.draw(&Text::new(
        "0%",
        (scale_x - 6, 17),
        legend.pos(Pos::new(HPos::Right, VPos::Center)),
    ))?;
    let scale_text = if saturation > 0.0 {
        format!("{} or more ordered (cells in %)", percent(saturation))
    } else {
        "ordered (cells in %)".to_owned()
    };
    let mut x = scale_x + scale_w + 6;
    root.draw(&Text::new(
        scale_text.clone(),
        (x, 17),
        legend.pos(Pos::new(HPos::Left, VPos::Center)),
    ))?;
    x += text_width(&scale_text, 12.0) as i32 + 24;
    root.draw(&Rectangle::new([(x, 10), (x + 14, 24)], GRID.filled()))?;
    let month_zero = "month 0: the whole cohort";
    root.draw(&Text::new(
        month_zero,
        (x + 20, 17),
        legend.pos(Pos::new(HPos::Left, VPos::Center)),
    ))?;
    x += 20 + text_width(month_zero, 12.0) as i32 + 24;
    root.draw(&Rectangle::new([(x, 10), (x + 14, 24)], FAINT.filled()))?;
    strike(root, (x, 10), (14, 14))?;
    root.draw(&Text::new(
        format!("under {MIN_COHORT} customers: not coloured"),
        (x + 20, 17),
        legend.pos(Pos::new(HPos::Left, VPos::Center)),
    ))?;
    Ok(())
}

/// Chart 3: the monthly cohorts' retention, one row per cohort, one column per month since. A
/// cell prints its share (in %) when it fits at 12 px; every cell tells its figures on hover.
fn cohort_heatmap(data: &ReportData) -> Result<String> {
    const TEXT_PX: f64 = 12.0;
    let cohorts = &data.cohorts;
    if cohorts.is_empty() {
        return svg(200, |root| nothing(root, "no cohort starts in this range"));
    }
    let months = cohorts.iter().map(|c| c.active.len()).max().unwrap_or(1);
    let (left, top, right, bottom) = (112i32, 66i32, 8i32, 58i32);
    let cell_w = ((WIDTH as i32 - left - right) / months as i32).clamp(4, 60);
    let cell_h = if cohorts.len() > 40 { 12 } else { 22 };
    let height = (top + cell_h * cohorts.len() as i32 + bottom) as u32;
    let saturation = cohort_scale(cohorts);
    let mut hovers = Vec::new();
    let drawn = svg(height, |root| {
        let label = text_style(12.0, &INK);
        let cell_text = text_style(TEXT_PX, &INK);
        for (row, c) in cohorts.iter().enumerate() {
            let y = top + row as i32 * cell_h;
            let small = c.size < MIN_COHORT;
            root.draw(&Text::new(
                format!("{} ({})", c.cohort, thousands(c.size)),
                (left - 8, y + cell_h / 2),
                label
                    .color(if small { &MUTED } else { &INK })
                    .pos(Pos::new(HPos::Right, VPos::Center)),
            ))?;
            for (k, &n) in c.active.iter().enumerate() {
                let share = n as f64 / c.size.max(1) as f64;
                let level = if saturation > 0.0 {
                    share / saturation
                } else {
                    0.0
                };
                let x = left + k as i32 * cell_w;
                let fill = if k == 0 {
                    GRID
                } else if small {
                    FAINT
                } else {
                    shade(level)
                };
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell_w - 1, y + cell_h - 1)],
                    fill.filled(),
                ))?;
                if k > 0 && small {
                    strike(root, (x, y), (cell_w - 1, cell_h - 1))?;
                }
                // The number alone (the legend says it is a percentage): it fits narrower cells.
                let text = percent(share).trim_end_matches('%').to_owned();
                if k > 0
                    && n > 0
                    && cell_h >= 18
                    && text_width(&text, TEXT_PX) + 4.0 <= f64::from(cell_w)
                {
                    let color = if small {
                        &MUTED
                    } else if level > 0.55 {
                        &WHITE
                    } else {
                        &INK
                    };
                    root.draw(&Text::new(
                        text,
                        (x + cell_w / 2, y + cell_h / 2),
                        cell_text
                            .color(color)
                            .pos(Pos::new(HPos::Center, VPos::Center)),
                    ))?;
                }
                hovers.push(Hover {
                    at: (x, y),
                    size: (cell_w - 1, cell_h - 1),
                    title: cell_title(c, k),
                });
            }
        }
        let axis_y = top + cell_h * cohorts.len() as i32 + 6;
        let every = (30 / cell_w).max(1) as usize;
        for k in (0..months).step_by(every) {
            root.draw(&Text::new(
                k.to_string(),
                (left + k as i32 * cell_w + cell_w / 2, axis_y),
                label.pos(Pos::new(HPos::Center, VPos::Top)),
            ))?;
        }
        root.draw(&Text::new(
            "months since the first order (0 = the month of the first order)",
            (left + (WIDTH as i32 - left - right) / 2, axis_y + 22),
            text_style(13.0, &INK).pos(Pos::new(HPos::Center, VPos::Top)),
        ))?;
        root.draw(&Text::new(
            "cohort: month of first order (customers)",
            (8, top - 8),
            text_style(13.0, &INK).pos(Pos::new(HPos::Left, VPos::Bottom)),
        ))?;
        cohort_legend(root, left, saturation)?;
        Ok(())
    })?;
    Ok(with_hovers(drawn, &hovers))
}

/// Chart 4: customers by number of orders, on a log axis.
fn repeat_histogram(data: &ReportData) -> Result<String> {
    let hist = &data.repeat_histogram;
    let Some(&max_orders) = hist.keys().next_back() else {
        return svg(340, |root| {
            nothing(root, "no customer ordered in this range")
        });
    };
    let max_orders = max_orders.max(1) as i32;
    let top = hist.values().copied().max().unwrap_or(1).max(1) as f64 * 3.0;
    svg(340, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(46)
            .y_label_area_size(70)
            .margin_right(24)
            .build_cartesian_2d((1..max_orders).into_segmented(), (0.7f64..top).log_scale())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .axis_style(MUTED)
            .x_labels(max_orders.min(30) as usize)
            .y_labels(8)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(n) | SegmentValue::Exact(n) => n.to_string(),
                SegmentValue::Last => String::new(),
            })
            .y_label_formatter(&|v| short(*v))
            .label_style(text_style(12.0, &INK))
            .axis_desc_style(text_style(13.0, &INK))
            .x_desc("orders per customer in the range")
            .y_desc("customers (log scale)")
            .draw()?;
        chart.draw_series(hist.iter().map(|(&orders, &n)| {
            let orders = orders as i32;
            let mut r = Rectangle::new(
                [
                    (SegmentValue::Exact(orders), 0.7),
                    (SegmentValue::Exact(orders + 1), n as f64),
                ],
                BLUE.filled(),
            );
            r.set_margin(0, 0, 3, 3);
            r
        }))?;
        if max_orders <= 30 {
            chart.draw_series(hist.iter().map(|(&orders, &n)| {
                Text::new(
                    thousands(n),
                    (SegmentValue::CenterOf(orders as i32), n as f64 * 1.12),
                    text_style(11.0, &INK).pos(Pos::new(HPos::Center, VPos::Bottom)),
                )
            }))?;
        }
        Ok(())
    })
}

fn gap_label(from: i64, to: Option<i64>) -> String {
    match to {
        None => format!("{from}+"),
        Some(to) if to == from + 1 => from.to_string(),
        Some(to) => format!("{from}–{}", to - 1),
    }
}

/// Chart 5: days between a customer's consecutive purchase days.
fn days_between(data: &ReportData) -> Result<String> {
    let bins = &data.days_between_orders;
    let total: i64 = bins.iter().map(|b| b.count).sum();
    if total == 0 {
        return svg(340, |root| {
            nothing(root, "no customer ordered on two different days")
        });
    }
    let n = bins.len() as i32;
    let top = bins.iter().map(|b| b.count).max().unwrap_or(1) as f64 * 1.15;
    let labels: Vec<String> = GAP_BINS
        .iter()
        .map(|&(from, to)| gap_label(from, to))
        .collect();
    svg(340, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(46)
            .y_label_area_size(70)
            .margin_right(24)
            .build_cartesian_2d((0..n - 1).into_segmented(), 0f64..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .axis_style(MUTED)
            .x_labels(n as usize)
            .y_labels(8)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                    labels.get(*i as usize).cloned().unwrap_or_default()
                }
                SegmentValue::Last => String::new(),
            })
            .y_label_formatter(&|v| short(*v))
            .label_style(text_style(12.0, &INK))
            .axis_desc_style(text_style(13.0, &INK))
            .x_desc("days since the customer's previous purchase day")
            .y_desc("purchase days (repeat)")
            .draw()?;
        chart.draw_series(bins.iter().enumerate().map(|(i, b)| {
            let i = i as i32;
            let mut r = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), b.count as f64),
                ],
                BLUE.filled(),
            );
            r.set_margin(0, 0, 6, 6);
            r
        }))?;
        chart.draw_series(bins.iter().enumerate().map(|(i, b)| {
            Text::new(
                thousands(b.count),
                (
                    SegmentValue::CenterOf(i as i32),
                    b.count as f64 + top * 0.01,
                ),
                text_style(11.0, &INK).pos(Pos::new(HPos::Center, VPos::Bottom)),
            )
        }))?;
        Ok(())
    })
}

/// Chart 6: the distribution of `avg_order_value` over the daily rows.
fn order_values(data: &ReportData) -> Result<String> {
    let bins = &data.order_values;
    if bins.is_empty() {
        return svg(340, |root| nothing(root, "no kept order in this range"));
    }
    let width = bins
        .first()
        .and_then(|b| b.to.map(|to| f64_of(to.0) - f64_of(b.from.0)))
        .unwrap_or(1.0);
    let bounds: Vec<(f64, f64, i64, bool)> = bins
        .iter()
        .map(|b| {
            let from = f64_of(b.from.0);
            (
                from,
                b.to.map_or(from + width, |t| f64_of(t.0)),
                b.count,
                b.to.is_none(),
            )
        })
        .collect();
    let x_end = bounds.last().map_or(1.0, |b| b.1);
    let top = bounds.iter().map(|b| b.2).max().unwrap_or(1).max(1) as f64 * 1.15;
    svg(340, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(46)
            .y_label_area_size(70)
            .margin_right(24)
            .build_cartesian_2d(0f64..x_end, 0f64..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .axis_style(MUTED)
            .x_labels(12)
            .y_labels(8)
            .x_label_formatter(&|v| short(*v))
            .y_label_formatter(&|v| short(*v))
            .label_style(text_style(12.0, &INK))
            .axis_desc_style(text_style(13.0, &INK))
            .x_desc("average order value of a customer's day (currency of the data)")
            .y_desc("customer-days")
            .draw()?;
        chart.draw_series(bounds.iter().map(|&(from, to, n, open)| {
            let mut r = Rectangle::new(
                [(from, 0.0), (to, n as f64)],
                if open { ORANGE } else { BLUE }.filled(),
            );
            r.set_margin(0, 0, 1, 0);
            r
        }))?;
        if let Some(&(from, to, n, true)) = bounds.last() {
            chart.draw_series(std::iter::once(Text::new(
                format!(
                    "≥ {} ({})",
                    money_text(bins[bins.len() - 1].from.0),
                    thousands(n)
                ),
                (f64::midpoint(from, to), n as f64 + top * 0.01),
                text_style(11.0, &ORANGE).pos(Pos::new(HPos::Right, VPos::Bottom)),
            )))?;
        }
        Ok(())
    })
}

fn clip(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(chars - 1).collect::<String>())
    }
}

/// `text` cut to `width` pixels at `px`, ending in "…" when cut (for a word too long for a line).
fn fit(text: &str, px: f64, width: f64) -> String {
    if text_width(text, px) <= width {
        return text.to_owned();
    }
    let mut kept: String = text.to_owned();
    while !kept.is_empty() && text_width(&format!("{kept}…"), px) > width {
        kept.pop();
    }
    format!("{kept}…")
}

/// Breaks `text` at spaces into at most `lines` lines of at most `width` pixels at `px`. When it
/// does not fit, the last line ends with " …" after its last whole word that fits. Returns the
/// lines and whether they hold the whole text.
fn wrap(text: &str, px: f64, width: f64, lines: usize) -> (Vec<String>, bool) {
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let longer = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if line.is_empty() || text_width(&longer, px) <= width {
            line = longer;
        } else {
            out.push(std::mem::replace(&mut line, word.to_owned()));
        }
    }
    if !line.is_empty() {
        out.push(line);
    }
    let mut whole = out.len() <= lines;
    out.truncate(lines);
    if let Some(last) = out.last_mut()
        && !whole
    {
        let mut words: Vec<&str> = last.split(' ').collect();
        while words.len() > 1 && text_width(&format!("{} …", words.join(" ")), px) > width {
            words.pop();
        }
        *last = format!("{} …", words.join(" "));
    }
    for line in &mut out {
        if text_width(line, px) > width {
            *line = fit(line, px, width);
            whole = false;
        }
    }
    (out, whole)
}

/// The rows of the rejected-lines chart, most frequent first: (label, lines, what it says on
/// hover). The first `shown` kinds of reason have a row each; the rest share one, whose hover
/// lists them (the first 30).
fn reason_rows(reasons: &[Reason], shown: usize) -> Vec<(String, i64, String)> {
    let mut rows: Vec<(String, i64, String)> = reasons
        .iter()
        .take(shown)
        .map(|r| {
            (
                r.reason.clone(),
                r.count,
                format!("{}: {} line(s)", r.reason, thousands(r.count)),
            )
        })
        .collect();
    if reasons.len() > shown {
        let others = &reasons[shown..];
        let mut title = format!("{} other kinds of reason:", others.len());
        for r in others.iter().take(30) {
            let _ = write!(title, "\n{}: {}", r.reason, thousands(r.count));
        }
        if others.len() > 30 {
            title.push_str("\n…");
        }
        rows.push((
            format!("{} other kinds of reason", others.len()),
            others.iter().map(|r| r.count).sum(),
            title,
        ));
    }
    rows
}

/// Chart 7a: rejected lines of the recent loads, by kind of reason; a sentence when there is none.
fn rejected_by_reason(data: &ReportData) -> Result<Body> {
    const SHOWN: usize = 10;
    const LABEL_AREA: u32 = 470;
    const LABEL_PX: f64 = 12.0;
    const LINE_PX: i32 = 15;
    let reasons = &data.health.rejected_by_reason;
    let loads = data.health.loads.len();
    if reasons.is_empty() {
        return Ok(Body::Sentence(match loads {
            0 => "No load has run yet.".to_owned(),
            1 => "No line was rejected in the last load.".to_owned(),
            n => format!("No line was rejected in the last {n} loads."),
        }));
    }
    let mut rows = reason_rows(reasons, SHOWN);
    // The most frequent at the top.
    rows.reverse();
    let text_room = f64::from(LABEL_AREA) - 22.0;
    let labels: Vec<Vec<String>> = rows
        .iter()
        .map(|r| wrap(&r.0, LABEL_PX, text_room, 2).0)
        .collect();
    let row_h = if labels.iter().any(|l| l.len() > 1) {
        38
    } else {
        24
    };
    let n = rows.len() as i32;
    let height = (70 + row_h * n) as u32;
    let top = rows.iter().map(|r| r.1).max().unwrap_or(1) as f64 * 1.15;
    let mut hovers = Vec::new();
    let drawn = svg(height, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(46)
            .y_label_area_size(LABEL_AREA)
            .margin_right(24)
            .build_cartesian_2d(0f64..top, (0..n - 1).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .axis_style(MUTED)
            .x_labels(6)
            .y_labels(n as usize)
            .x_label_formatter(&|v| short(*v))
            .y_label_formatter(&|_| String::new())
            .label_style(text_style(12.0, &INK))
            .axis_desc_style(text_style(13.0, &INK))
            .x_desc(format!(
                "rejected lines, summed over the last {loads} load(s)"
            ))
            .draw()?;
        chart.draw_series(rows.iter().enumerate().map(|(i, r)| {
            let i = i as i32;
            let mut bar = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(i)),
                    (r.1 as f64, SegmentValue::Exact(i + 1)),
                ],
                RED.mix(0.8).filled(),
            );
            bar.set_margin(4, 4, 0, 0);
            bar
        }))?;
        chart.draw_series(rows.iter().enumerate().map(|(i, r)| {
            Text::new(
                format!(" {}", thousands(r.1)),
                (r.1 as f64, SegmentValue::CenterOf(i as i32)),
                text_style(11.0, &INK).pos(Pos::new(HPos::Left, VPos::Center)),
            )
        }))?;
        // The labels, drawn here rather than by the mesh so that a long one wraps.
        let plot_left = chart.plotting_area().get_pixel_range().0.start;
        let (root_x, root_y) = root.get_base_pixel();
        for (i, (lines, row)) in labels.iter().zip(&rows).enumerate() {
            let (_, centre) = chart.backend_coord(&(0.0, SegmentValue::CenterOf(i as i32)));
            let first = centre - (lines.len() as i32 - 1) * LINE_PX / 2;
            for (k, line) in lines.iter().enumerate() {
                root.draw(&Text::new(
                    line.clone(),
                    (plot_left - 10 - root_x, first + k as i32 * LINE_PX - root_y),
                    text_style(LABEL_PX, &INK).pos(Pos::new(HPos::Right, VPos::Center)),
                ))?;
            }
            hovers.push(Hover {
                at: (0, centre - row_h / 2 - root_y),
                size: (WIDTH as i32, row_h),
                title: row.2.clone(),
            });
        }
        Ok(())
    })?;
    Ok(Body::Svg(with_hovers(drawn, &hovers)))
}

fn state_color(state: DayState) -> RGBColor {
    match state {
        DayState::Computed => GREEN,
        DayState::Missing => RED,
        DayState::Stale => AMBER,
    }
}

/// Chart 7b: every day of the range as a cell (weeks left to right, Monday at the top).
fn calendar(data: &ReportData) -> Result<String> {
    let days = &data.health.days;
    let Some(first) = days.first().map(|d| d.date) else {
        return svg(120, |root| nothing(root, "no day in this range"));
    };
    let start = monday_of(first);
    let last = days.last().map_or(first, |d| d.date);
    let weeks = ((monday_of(last) - start).num_days() / 7 + 1) as i32;
    let (left, top, right) = (56i32, 40i32, 20i32);
    let cell = ((WIDTH as i32 - left - right) / weeks).clamp(2, 16);
    let grid_bottom = top + 7 * cell;
    let height = (grid_bottom + 76) as u32;
    let count = |state: DayState| days.iter().filter(|d| d.state == state).count();
    svg(height, |root| {
        let label = text_style(12.0, &INK);
        let gap = i32::from(cell >= 6);
        for d in days {
            let week = ((monday_of(d.date) - start).num_days() / 7) as i32;
            let row = d.date.weekday().num_days_from_monday() as i32;
            let (x, y) = (left + week * cell, top + row * cell);
            root.draw(&Rectangle::new(
                [(x, y), (x + cell - gap, y + cell - gap)],
                state_color(d.state).filled(),
            ))?;
        }
        for (row, name) in [(0, "Mon"), (2, "Wed"), (4, "Fri"), (6, "Sun")] {
            root.draw(&Text::new(
                name,
                (left - 6, top + row * cell + cell / 2),
                text_style(11.0, &INK).pos(Pos::new(HPos::Right, VPos::Center)),
            ))?;
        }
        // Month labels over the week holding the 1st, as often as they fit.
        let mut last_label_x: Option<i32> = None;
        for d in days.iter().filter(|d| d.date.day() == 1 || d.date == first) {
            let week = ((monday_of(d.date) - start).num_days() / 7) as i32;
            let x = left + week * cell;
            if last_label_x.is_none_or(|last| x - last >= 58) {
                root.draw(&Text::new(
                    d.date.format("%Y-%m").to_string(),
                    (x, top - 6),
                    label.pos(Pos::new(HPos::Left, VPos::Bottom)),
                ))?;
                last_label_x = Some(x);
            }
        }
        root.draw(&Text::new(
            "weeks, labelled by month (a column is a week, Monday at the top)",
            (left, grid_bottom + 12),
            text_style(13.0, &INK).pos(Pos::new(HPos::Left, VPos::Top)),
        ))?;
        let mut x = left;
        for (state, name) in [
            (DayState::Computed, "computed"),
            (DayState::Missing, "missing"),
            (DayState::Stale, "stale"),
        ] {
            root.draw(&Rectangle::new(
                [(x, grid_bottom + 42), (x + 12, grid_bottom + 54)],
                state_color(state).filled(),
            ))?;
            let text = format!("{name}: {} days", thousands(count(state) as i64));
            root.draw(&Text::new(
                text.clone(),
                (x + 18, grid_bottom + 48),
                label.pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
            x += 28 + 8 * text.len() as i32;
        }
        Ok(())
    })
}

fn status_color(status: &str) -> RGBColor {
    match status {
        "succeeded" => BLUE,
        "failed" => RED,
        _ => GREY,
    }
}

/// The run-time axis (log scale, in seconds): from 10 ms, or from 1 ms when a run took less than
/// 100 ms, to the decade above the slowest run (at least 10 s). So a run of 10 ms or more spans a
/// decade of the axis or more; a faster one, and one still running, gets [`run_bar_end`]'s
/// minimum.
fn run_axis(seconds: &[f64]) -> (f64, f64) {
    let fastest = seconds
        .iter()
        .copied()
        .filter(|s| *s > 0.0)
        .fold(f64::INFINITY, f64::min);
    // A hair below the decade: plotters ticks the powers of ten from the one above ln(low) / ln(10),
    // which for 0.01 itself comes out as -1.999…, so the axis's own start would have no label.
    let low = if fastest < 0.1 { 0.001 } else { 0.01 } * (1.0 - 1e-9);
    let slowest = seconds.iter().copied().fold(1.0, f64::max) * 1.5;
    (low, 10f64.powf(slowest.log10().ceil()))
}

/// Where a run's bar ends on the axis `(low, high)`: at its time, but at least 1.5% of the axis
/// (about ten pixels) past its start, so that no run is without a bar.
fn run_bar_end(seconds: Option<f64>, (low, high): (f64, f64)) -> f64 {
    let shortest = low * (high / low).powf(0.015);
    seconds.unwrap_or(0.0).max(shortest)
}

/// A run time in few characters: 420 ms, 3.25 s, 95 s.
fn run_time(seconds: f64) -> String {
    if seconds >= 10.0 {
        format!("{seconds:.0} s")
    } else if seconds >= 1.0 {
        format!("{seconds:.2} s")
    } else if seconds >= 0.001 {
        format!("{:.0} ms", seconds * 1000.0)
    } else {
        "under 1 ms".to_owned()
    }
}

/// A tick of the run-time axis: 1 ms, 10 ms, 100 ms, 1 s, 10 s, 1,000 s.
fn run_tick(seconds: f64) -> String {
    if seconds >= 1.0 {
        format!("{} s", thousands(seconds.round() as i64))
    } else {
        format!("{} ms", trim(seconds * 1000.0))
    }
}

/// What a run's row says on hover.
fn run_title(run: &RunEntry) -> String {
    format!(
        "run {}: {} ({}), started {}, {}",
        run.run_id,
        run.stage,
        run.status,
        run.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        run.seconds
            .map_or_else(|| "no end recorded".to_owned(), run_time)
    )
}

/// The runs chart's coordinates: the run time across (log scale), one segment per run down.
type RunChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<LogCoord<f64>, SegmentedCoord<RangedCoordi32>>>;

/// Chart 7c: how long the recent runs took, most recent at the top.
fn run_durations(data: &ReportData) -> Result<String> {
    let runs = &data.health.runs;
    if runs.is_empty() {
        return svg(120, |root| nothing(root, "no run is recorded"));
    }
    let seconds: Vec<f64> = runs.iter().filter_map(|r| r.seconds).collect();
    let axis = run_axis(&seconds);
    let labels: Vec<String> = runs
        .iter()
        .map(|r| {
            format!(
                "#{} {} · {}",
                r.run_id,
                clip(&r.stage, 24),
                r.started_at.format("%Y-%m-%d %H:%M")
            )
        })
        .collect();
    let height = (110 + 24 * runs.len() as i32) as u32;
    let mut hovers = Vec::new();
    let drawn = svg(height, |root| {
        let mut chart = run_chart(root, axis, &labels)?;
        draw_run_bars(root, &mut chart, runs, axis)?;
        draw_run_times(&mut chart, runs, axis)?;
        hovers = run_hovers(&chart, runs, axis);
        Ok(())
    })?;
    Ok(with_hovers(drawn, &hovers))
}

/// The runs chart's frame: the time axis (log scale, `axis` in seconds) and one row per label.
fn run_chart<'a, 'b>(
    root: &'a Area<'b>,
    (low, high): (f64, f64),
    labels: &[String],
) -> Result<RunChart<'a, 'b>> {
    let n = labels.len() as i32;
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(46)
        .margin_top(36)
        .margin_right(24)
        .y_label_area_size(300)
        .build_cartesian_2d((low..high).log_scale(), (0..n - 1).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .axis_style(MUTED)
        .x_labels(8)
        .y_labels(n as usize)
        .x_label_formatter(&|v| run_tick(*v))
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                labels.get(*i as usize).cloned().unwrap_or_default()
            }
            SegmentValue::Last => String::new(),
        })
        .label_style(text_style(12.0, &INK))
        .axis_desc_style(text_style(13.0, &INK))
        .x_desc("run time (log scale)")
        .draw()?;
    Ok(chart)
}

/// One bar per run, coloured by its status, with the legend of the statuses above the chart.
fn draw_run_bars(
    root: &Area,
    chart: &mut RunChart,
    runs: &[RunEntry],
    axis: (f64, f64),
) -> Result<()> {
    let mut legend_x = 312;
    for (status, name) in [
        ("succeeded", "succeeded"),
        ("failed", "failed"),
        ("running", "running or interrupted"),
    ] {
        let color = status_color(status);
        root.draw(&Rectangle::new(
            [(legend_x, 10), (legend_x + 12, 22)],
            color.filled(),
        ))?;
        root.draw(&Text::new(
            name,
            (legend_x + 18, 16),
            text_style(12.0, &INK).pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        legend_x += 40 + 7 * name.len() as i32;
        chart.draw_series(
            runs.iter()
                .enumerate()
                .filter(|(_, r)| status_color(&r.status) == color)
                .map(|(i, r)| {
                    let i = i as i32;
                    let mut bar = Rectangle::new(
                        [
                            (axis.0, SegmentValue::Exact(i)),
                            (run_bar_end(r.seconds, axis), SegmentValue::Exact(i + 1)),
                        ],
                        color.filled(),
                    );
                    bar.set_margin(3, 3, 0, 0);
                    bar
                }),
        )?;
    }
    Ok(())
}

/// Each run's time (or "running") at the end of its bar.
fn draw_run_times(chart: &mut RunChart, runs: &[RunEntry], axis: (f64, f64)) -> Result<()> {
    chart.draw_series(runs.iter().enumerate().map(|(i, r)| {
        Text::new(
            format!(
                " {}",
                r.seconds.map_or_else(|| "running".to_owned(), run_time)
            ),
            (
                run_bar_end(r.seconds, axis),
                SegmentValue::CenterOf(i as i32),
            ),
            text_style(11.0, &INK).pos(Pos::new(HPos::Left, VPos::Center)),
        )
    }))?;
    Ok(())
}

/// A hover over each run's whole row, saying what the run was.
fn run_hovers(chart: &RunChart, runs: &[RunEntry], (low, _): (f64, f64)) -> Vec<Hover> {
    runs.iter()
        .enumerate()
        .map(|(i, r)| {
            let (_, upper) = chart.backend_coord(&(low, SegmentValue::Exact(i as i32 + 1)));
            let (_, lower) = chart.backend_coord(&(low, SegmentValue::Exact(i as i32)));
            let (top, bottom) = (upper.min(lower), upper.max(lower));
            Hover {
                at: (0, top),
                size: (WIDTH as i32, bottom - top),
                title: run_title(r),
            }
        })
        .collect()
}

/// Every chart, in page order.
pub fn charts(data: &ReportData) -> Result<(Vec<Chart>, Vec<Chart>)> {
    let weeks_caption = "Customers who ordered each week: new ones ordered for the first time that day, \
                         returning ones had ordered before (a customer counts once per day they ordered; the first and last \
                         weeks may be partial).";
    let main = vec![
        Chart {
            id: "daily-revenue",
            title: "Daily revenue and orders".into(),
            caption: "Revenue (sum of total_spent, in the currency of the data) of each purchase day, and \
                      below it the orders of each day (any status), each with its trailing 7-day moving average."
                .into(),
            body: Body::Svg(daily_revenue(data).context("cannot draw the daily revenue")?),
        },
        Chart {
            id: "new-vs-returning",
            title: "New vs returning customers per week".into(),
            caption: weeks_caption.into(),
            body: Body::Svg(new_vs_returning(data).context("cannot draw the weekly customers")?),
        },
        Chart {
            id: "cohort-retention",
            title: "Monthly cohort retention".into(),
            caption: format!(
                "Of the customers whose first order fell in a month (a row), the share who ordered \
                 again k months later (a column). The colour saturates at the 98th percentile of the shares after \
                 month 0, each weighted by its cohort's size; cohorts of fewer than {MIN_COHORT} customers are grey and \
                 struck through, and set no colour. Hover over a cell for its figures."
            ),
            body: Body::Svg(cohort_heatmap(data).context("cannot draw the cohorts")?),
        },
        Chart {
            id: "repeat-purchases",
            title: "Repeat purchases".into(),
            caption: "Customers by the number of orders they placed in the range (any status), on a log \
                      scale: most customers buy once."
                .into(),
            body: Body::Svg(repeat_histogram(data).context("cannot draw the repeat purchases")?),
        },
        Chart {
            id: "days-between-orders",
            title: "Days between purchases".into(),
            caption: "For each repeat purchase day, the days since the same customer's previous purchase day."
                .into(),
            body: Body::Svg(days_between(data).context("cannot draw the days between orders")?),
        },
        Chart {
            id: "order-values",
            title: "Order value distribution".into(),
            caption: "Average order value of each customer's day (avg_order_value of the daily rows); \
                      the values above the 99th percentile are gathered in the last, orange bar."
                .into(),
            body: Body::Svg(order_values(data).context("cannot draw the order values")?),
        },
    ];
    let rejected = rejected_by_reason(data).context("cannot draw the rejected lines")?;
    let health = vec![
        Chart {
            id: "health-rejected",
            title: "Rejected lines by reason".into(),
            caption: if matches!(rejected, Body::Svg(_)) {
                format!(
                    "Lines rejected by the last {RECENT_LOADS} loads (at most), by rule, summed over those loads: quoted \
                     values are shown as \"…\", timestamps as <timestamp>, dates as <date> and other numbers as N; a \
                     file loaded again counts again. Hover over a row for its whole reason."
                )
            } else {
                format!(
                    "The lines rejected by the last {RECENT_LOADS} loads (at most) would be counted here, by rule."
                )
            },
            body: rejected,
        },
        Chart {
            id: "health-days",
            title: "Days computed, missing or stale".into(),
            caption:
                "Each day of the range: its statistics are computed, missing (never computed) or \
                      stale (computed before a later load or with other stage options)."
                    .into(),
            body: Body::Svg(calendar(data).context("cannot draw the calendar")?),
        },
        Chart {
            id: "health-runs",
            title: "Recent runs".into(),
            caption:
                "How long each of the most recent runs took, by stage, most recent at the top."
                    .into(),
            body: Body::Svg(run_durations(data).context("cannot draw the run durations")?),
        },
    ];
    Ok((main, health))
}

/// What the page's header says.
#[derive(Debug, Serialize)]
struct Header {
    range: String,
    days: String,
    generated_at: String,
    data_days: String,
    /// Said when the customer rows are not keyed by the person.
    keyed_by: Option<String>,
    totals: Vec<(String, String)>,
}

const TEMPLATE: &str = include_str!("report.html.j2");

/// The whole page: one self-contained HTML document.
pub fn page(data: &ReportData, totals: &Totals, generated_at: &str) -> Result<String> {
    let (charts, health) = charts(data)?;
    let rate = |n: i64| {
        if totals.customers == 0 {
            String::new()
        } else {
            format!(" ({:.1}%)", 100.0 * n as f64 / totals.customers as f64)
        }
    };
    let header = Header {
        range: format!("{} to {}", data.range.start, data.range.end),
        days: thousands((data.range.end - data.range.start).num_days() + 1),
        generated_at: generated_at.to_owned(),
        data_days: totals.data_days.map_or_else(
            || "no orders loaded".to_owned(),
            |r| format!("{} to {}", r.start, r.end),
        ),
        keyed_by: totals.row_keys.iter().any(|k| k == "customer_id").then(|| {
            "the rows are keyed by customer_id (customer_key = \"customer_id\"): a customer \
                 here is one order's customer record, not a person, so nobody repeats"
                .to_owned()
        }),
        totals: vec![
            ("customers".into(), thousands(totals.customers)),
            ("orders".into(), thousands(totals.orders)),
            ("revenue".into(), money_text(totals.revenue)),
            (
                "repeaters by orders (2+ orders)".into(),
                format!(
                    "{}{}",
                    thousands(totals.repeaters_by_orders),
                    rate(totals.repeaters_by_orders)
                ),
            ),
            (
                "repeaters by days (2+ days)".into(),
                format!(
                    "{}{}",
                    thousands(totals.repeaters_by_days),
                    rate(totals.repeaters_by_days)
                ),
            ),
        ],
    };
    let mut env = minijinja::Environment::new();
    env.add_template("report.html", TEMPLATE)
        .context("the report template does not parse")?;
    // The SVG markup is ours and goes in as is; every other value is escaped by the template.
    let values = |charts: &[Chart]| -> Vec<minijinja::Value> {
        charts
            .iter()
            .map(|c| {
                let (svg, sentence) = match &c.body {
                    Body::Svg(svg) => (Some(minijinja::Value::from_safe_string(svg.clone())), None),
                    Body::Sentence(sentence) => (None, Some(sentence.clone())),
                };
                minijinja::context! {
                    id => c.id,
                    title => c.title.clone(),
                    caption => c.caption.clone(),
                    svg => svg,
                    sentence => sentence,
                }
            })
            .collect()
    };
    let context = minijinja::context! {
        header => minijinja::value::Serde(&header),
        charts => values(&charts),
        health => values(&health),
    };
    env.get_template("report.html")?
        .render(context)
        .context("cannot render the report page")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::report::data::{Health, Load};

    /// A report of one day with the given health figures and cohorts, the rest empty.
    fn report(runs: Vec<RunEntry>, reasons: Vec<Reason>, cohorts: Vec<Cohort>) -> ReportData {
        let day = NaiveDate::from_ymd_opt(2017, 3, 1).unwrap();
        let at = Utc.with_ymd_and_hms(2017, 3, 2, 6, 0, 0).unwrap();
        ReportData {
            range: super::super::data::Range {
                start: day,
                end: day,
            },
            daily: Vec::new(),
            cohorts,
            repeat_histogram: BTreeMap::new(),
            days_between_orders: Vec::new(),
            order_values: Vec::new(),
            health: Health {
                loads: (1..=10)
                    .map(|run_id| Load {
                        run_id,
                        started_at: at,
                        lines_read: 100,
                        lines_rejected: 0,
                    })
                    .collect(),
                rejected_by_reason: reasons,
                days: Vec::new(),
                runs,
            },
        }
    }

    /// The `<rect>` elements of an SVG: (x, y, width, height, fill).
    fn rects(svg: &str) -> Vec<(f64, f64, f64, f64, String)> {
        svg.split("<rect ")
            .skip(1)
            .map(|tag| {
                let tag = &tag[..tag.find('>').unwrap()];
                let attr = |name: &str| {
                    let start = tag.find(&format!(" {name}=\"")).map(|i| i + name.len() + 3);
                    let start = start.or_else(|| {
                        tag.starts_with(&format!("{name}=\""))
                            .then_some(name.len() + 2)
                    });
                    start.map_or(String::new(), |start| {
                        let end = start + tag[start..].find('"').unwrap();
                        tag[start..end].to_owned()
                    })
                };
                let number = |name: &str| attr(name).parse::<f64>().unwrap_or(f64::NAN);
                (
                    number("x"),
                    number("y"),
                    number("width"),
                    number("height"),
                    attr("fill"),
                )
            })
            .collect()
    }

    /// The font sizes of an SVG's `<text>` elements, in pixels.
    fn font_sizes(svg: &str) -> Vec<f64> {
        svg.split("font-size=\"")
            .skip(1)
            .map(|rest| rest[..rest.find('"').unwrap()].parse().unwrap())
            .collect()
    }

    #[test]
    fn every_run_has_a_visible_bar_however_short() {
        let at = Utc.with_ymd_and_hms(2017, 3, 2, 6, 0, 0).unwrap();
        let times = [
            Some(0.0004),
            Some(0.003),
            Some(0.01),
            Some(0.25),
            Some(42.0),
            None,
            Some(0.0),
        ];
        let runs: Vec<RunEntry> = times
            .iter()
            .enumerate()
            .map(|(i, &seconds)| RunEntry {
                run_id: i as i64 + 1,
                stage: "load".into(),
                status: if seconds.is_some() {
                    "succeeded"
                } else {
                    "running"
                }
                .into(),
                started_at: at,
                seconds,
            })
            .collect();
        let svg = run_durations(&report(runs, Vec::new(), Vec::new())).unwrap();
        // The bars are the blue and grey rectangles taller than the legend's boxes.
        let bars: Vec<f64> = rects(&svg)
            .into_iter()
            .filter(|r| (r.4 == "#1F77B4" || r.4 == "#ADB5BD") && r.3 > 14.0)
            .map(|r| r.2)
            .collect();
        assert_eq!(bars.len(), times.len(), "{svg}");
        assert!(bars.iter().all(|&w| w >= 8.0), "bar widths {bars:?}");
        // The axis starts low enough that a run of 10 ms spans a decade of it, and says where.
        assert!(svg.contains(">\n1 ms\n<"), "{svg}");
        assert!(svg.contains(">\n under 1 ms\n<") && svg.contains(">\n 250 ms\n<"));
        for fastest in [0.0004, 0.01, 0.099, 0.1, 0.7, 3.0, 600.0] {
            let (low, high) = run_axis(&[fastest, 2.0]);
            assert!(low <= 0.01 && low < fastest.max(0.001), "{fastest}: {low}");
            assert!(
                fastest < 0.01 || fastest / low >= 10.0 * (1.0 - 1e-6),
                "{fastest}: {low}"
            );
            assert!(high >= fastest * 1.5 && high >= 10.0, "{fastest}: {high}");
        }
        assert!((run_axis(&[]).0 - 0.01).abs() < 1e-9);
    }

    #[test]
    fn labels_wrap_at_spaces_and_end_in_an_ellipsis_after_a_whole_word() {
        let reason = "orders: order_status \"…\" is not one of created, approved, invoiced, \
                      processing, shipped, delivered, canceled, unavailable";
        let words: Vec<&str> = reason.split(' ').collect();
        let (lines, whole) = wrap(reason, 12.0, 470.0, 2);
        assert!(whole);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines.join(" "), reason);
        let (lines, whole) = wrap(reason, 12.0, 160.0, 2);
        assert!(!whole);
        assert_eq!(lines.len(), 2);
        assert!(lines[1].ends_with(" …"), "{lines:?}");
        for line in &lines {
            assert!(text_width(line, 12.0) <= 160.0, "{line}");
            for word in line.trim_end_matches(" …").split(' ') {
                assert!(words.contains(&word), "{word:?} is cut");
            }
        }
        assert_eq!(
            wrap("short reason", 12.0, 470.0, 2),
            (vec!["short reason".to_owned()], true)
        );
        // A word longer than a line is the one thing cut inside.
        let (lines, whole) = wrap("a_very_long_identifier_without_spaces", 12.0, 100.0, 2);
        assert!(!whole && lines.len() == 1 && lines[0].ends_with('…'));
    }

    #[test]
    fn rejected_lines_keep_whole_labels_and_say_the_full_reason_on_hover() {
        let long = "orders: order_purchase_timestamp \"…\" is earlier than <timestamp> and has \
                    a reason long enough to need a second line and then a third one that is not shown";
        let reasons = vec![
            Reason {
                reason: long.into(),
                count: 3,
            },
            Reason {
                reason: "orders: order_status is empty (a value is required)".into(),
                count: 1,
            },
        ];
        let Body::Svg(svg) = rejected_by_reason(&report(Vec::new(), reasons, Vec::new())).unwrap()
        else {
            panic!("a chart is drawn");
        };
        assert!(svg.contains(&format!("<title>{}: 3 line(s)</title>", escape_xml(long))));
        assert!(svg.contains("&lt;timestamp&gt;"));
        assert!(svg.contains(">\norders: order_status is empty (a value is required)\n<"));
        // The long reason takes two lines, the second ending after a whole word; the rest is
        // in the title only.
        assert!(svg.contains(" …\n</text>"), "{svg}");
        assert_eq!(svg.matches("not shown").count(), 1);

        let none = report(Vec::new(), Vec::new(), Vec::new());
        let Body::Sentence(sentence) = rejected_by_reason(&none).unwrap() else {
            panic!("no chart when no line was rejected");
        };
        assert_eq!(sentence, "No line was rejected in the last 10 loads.");
    }

    #[test]
    fn small_cohorts_set_no_colour_and_cell_text_is_legible() {
        let cohort = |month: u32, size: i64, back: i64| Cohort {
            cohort: format!("2017-{month:02}"),
            size,
            active: std::iter::once(size)
                .chain(std::iter::repeat_n(back, 24 - month as usize))
                .collect(),
        };
        // One customer of four back is 25%; the large cohorts' shares are 1% and 2%.
        let cohorts = vec![cohort(1, 4, 1), cohort(2, 100, 1), cohort(3, 200, 4)];
        assert!((cohort_scale(&cohorts) - 0.02).abs() < 1e-12);
        assert!(cohort_scale(&cohorts[..1]).abs() < 1e-12);
        let svg = cohort_heatmap(&report(Vec::new(), Vec::new(), cohorts)).unwrap();
        let sizes = font_sizes(&svg);
        assert!(sizes.iter().all(|&px| px >= 12.0), "{sizes:?}");
        // The shares are printed where they fit, and every cell has its title.
        assert!(svg.contains(">\n2.0\n<"), "{svg}");
        assert!(svg.contains(
            "<title>2017-01 cohort (4 customers), month 1: 1 ordered (25%); fewer than 30 \
             customers, so not coloured</title>"
        ));
        assert_eq!(svg.matches("<title>").count(), 24 + 23 + 22);
        // The small cohort's cells are not on the colour scale.
        let darkest = "#084594";
        let dark_cells = rects(&svg)
            .iter()
            .filter(|r| r.4 == darkest && r.3 > 14.0)
            .count();
        assert_eq!(dark_cells, 21, "the 2% cells of the 200 customers");
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(-1234567), "-1,234,567");
        assert_eq!(money_text("1234567.891".parse().unwrap()), "1,234,567.89");
        assert_eq!(money_text("-0.5".parse().unwrap()), "-0.50");
        assert_eq!(short(950.0), "950");
        assert_eq!(short(12_500.0), "12.5k");
        assert_eq!(short(1_500_000.0), "1.5M");
        assert_eq!(gap_label(1, Some(2)), "1");
        assert_eq!(gap_label(2, Some(4)), "2–3");
        assert_eq!(gap_label(366, None), "366+");
    }
}
