//! Drawing the report: each chart as an inline SVG (plotters' SVG backend, which writes text as
//! `<text>` for the browser to set, so no font file is needed), and the page from a minijinja
//! template. Nothing here touches the database.

use std::collections::HashMap;

use anyhow::{Context, Result};
use chrono::{Datelike, Duration, NaiveDate};
use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;

use super::data::{DayState, GAP_BINS, RECENT_LOADS, ReportData, Totals};
use crate::money::money;

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
const GREEN: RGBColor = RGBColor(46, 160, 67);
const RED: RGBColor = RGBColor(214, 39, 40);
const AMBER: RGBColor = RGBColor(240, 173, 40);
const GREY: RGBColor = RGBColor(173, 181, 189);

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// One drawn chart.
#[derive(Debug, Clone)]
pub struct Chart {
    /// The `id` of its element in the page.
    pub id: &'static str,
    /// Its title.
    pub title: String,
    /// One line saying what it shows.
    pub caption: String,
    /// The SVG markup.
    pub svg: String,
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

/// 1234567 → "1,234,567".
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
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

fn legend_line(color: RGBColor, width: u32) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(width))
}

/// A date on a time axis: the month on a long axis (its ticks fall on months), else the day.
fn date_label(day: NaiveDate, long: bool) -> String {
    day.format(if long { "%Y-%m" } else { "%Y-%m-%d" })
        .to_string()
}

/// Chart 1: revenue per day with its 7-day moving average, and orders per day.
fn daily_revenue(data: &ReportData) -> Result<String> {
    let (start, end) = (data.range.start, data.range.end);
    if data.daily.is_empty() {
        return svg(380, |root| nothing(root, "no computed rows in this range"));
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
    let average: Vec<(NaiveDate, f64)> = revenue
        .windows(7)
        .map(|w| (w[6].0, w.iter().map(|(_, r)| r).sum::<f64>() / 7.0))
        .collect();
    let top_revenue = revenue.iter().map(|r| r.1).fold(1.0, f64::max) * 1.08;
    let top_orders = orders.iter().map(|r| r.1).fold(1.0, f64::max) * 1.08;
    let x_end = end.max(start + Duration::days(1));
    let long = (end - start).num_days() > 120;
    svg(380, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(46)
            .y_label_area_size(70)
            .right_y_label_area_size(64)
            .build_cartesian_2d((start..x_end).monthly(), 0f64..top_revenue)?
            .set_secondary_coord((start..x_end).monthly(), 0f64..top_orders);
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
            .x_desc("purchase day")
            .y_desc("revenue per day (currency of the data)")
            .draw()?;
        chart
            .configure_secondary_axes()
            .axis_style(MUTED)
            .y_labels(8)
            .y_label_formatter(&|v| short(*v))
            .label_style(text_style(12.0, &ORANGE))
            .axis_desc_style(text_style(13.0, &ORANGE))
            .y_desc("orders per day")
            .draw()?;
        chart
            .draw_secondary_series(LineSeries::new(orders, ORANGE.mix(0.7).stroke_width(1)))?
            .label("orders (right axis)")
            .legend(legend_line(ORANGE, 2));
        chart
            .draw_series(LineSeries::new(revenue, LIGHT_BLUE.stroke_width(1)))?
            .label("revenue")
            .legend(legend_line(LIGHT_BLUE, 2));
        chart
            .draw_series(LineSeries::new(average, BLUE.stroke_width(2)))?
            .label("revenue, 7-day moving average")
            .legend(legend_line(BLUE, 2));
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

/// Chart 3: the monthly cohorts' retention, one row per cohort, one column per month since.
fn cohort_heatmap(data: &ReportData) -> Result<String> {
    let cohorts = &data.cohorts;
    if cohorts.is_empty() {
        return svg(200, |root| nothing(root, "no cohort starts in this range"));
    }
    let months = cohorts.iter().map(|c| c.active.len()).max().unwrap_or(1);
    let (left, top, right, bottom) = (150i32, 44i32, 24i32, 58i32);
    let cell_w = ((WIDTH as i32 - left - right) / months as i32).clamp(4, 60);
    let cell_h = if cohorts.len() > 40 { 12 } else { 20 };
    let height = (top + cell_h * cohorts.len() as i32 + bottom) as u32;
    // Month 0 is everyone by definition; the colour scale is set by the later months, where the
    // differences are, and saturates at their 98th percentile so that one small cohort's luck
    // does not wash out the rest.
    let mut later: Vec<f64> = cohorts
        .iter()
        .flat_map(|c| {
            c.active
                .iter()
                .skip(1)
                .filter(|&&n| n > 0)
                .map(move |&n| n as f64 / c.size.max(1) as f64)
        })
        .collect();
    later.sort_by(f64::total_cmp);
    let max_later = later
        .get((later.len() as f64 * 0.98) as usize)
        .or(later.last())
        .copied()
        .unwrap_or(0.0);
    svg(height, |root| {
        let label = text_style(12.0, &INK);
        let small = text_style(if cell_w >= 34 { 10.5 } else { 9.5 }, &INK);
        for (row, c) in cohorts.iter().enumerate() {
            let y = top + row as i32 * cell_h;
            root.draw(&Text::new(
                format!("{} ({})", c.cohort, thousands(c.size)),
                (left - 8, y + cell_h / 2),
                label.pos(Pos::new(HPos::Right, VPos::Center)),
            ))?;
            for (k, &n) in c.active.iter().enumerate() {
                let share = n as f64 / c.size.max(1) as f64;
                let x = left + k as i32 * cell_w;
                let fill = if k == 0 {
                    GRID
                } else if max_later > 0.0 {
                    shade(share / max_later)
                } else {
                    shade(0.0)
                };
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell_w - 1, y + cell_h - 1)],
                    fill.filled(),
                ))?;
                if cell_w >= 28 && cell_h >= 16 && (k == 0 || n > 0) {
                    let dark = k > 0 && max_later > 0.0 && share / max_later > 0.6;
                    root.draw(&Text::new(
                        percent(share),
                        (x + cell_w / 2, y + cell_h / 2),
                        small
                            .color(if dark { &WHITE } else { &INK })
                            .pos(Pos::new(HPos::Center, VPos::Center)),
                    ))?;
                }
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
            (8, top - 14),
            text_style(13.0, &INK).pos(Pos::new(HPos::Left, VPos::Bottom)),
        ))?;
        // The colour scale.
        let (scale_x, scale_w) = (WIDTH as i32 - right - 330, 160);
        for i in 0..scale_w {
            root.draw(&Rectangle::new(
                [(scale_x + i, 12), (scale_x + i + 1, 24)],
                shade(f64::from(i) / f64::from(scale_w)).filled(),
            ))?;
        }
        root.draw(&Text::new(
            "0%",
            (scale_x - 6, 18),
            small.pos(Pos::new(HPos::Right, VPos::Center)),
        ))?;
        root.draw(&Text::new(
            format!("{} or more of the cohort active", percent(max_later)),
            (scale_x + scale_w + 6, 18),
            small.pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        Ok(())
    })
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

/// Chart 7a: rejected lines of the recent loads, by kind of reason.
fn rejected_by_reason(data: &ReportData) -> Result<String> {
    const SHOWN: usize = 10;
    let reasons = &data.health.rejected_by_reason;
    if reasons.is_empty() {
        let loads = data.health.loads.len();
        return svg(120, |root| {
            nothing(
                root,
                &if loads == 0 {
                    "no load has run yet".to_owned()
                } else {
                    format!("no line was rejected by the last {loads} load(s)")
                },
            )
        });
    }
    let mut rows: Vec<(String, i64)> = reasons
        .iter()
        .take(SHOWN)
        .map(|r| (r.reason.clone(), r.count))
        .collect();
    if reasons.len() > SHOWN {
        let rest = reasons.iter().skip(SHOWN).map(|r| r.count).sum();
        rows.push((
            format!("{} other kinds of reason", reasons.len() - SHOWN),
            rest,
        ));
    }
    // The most frequent at the top.
    rows.reverse();
    let n = rows.len() as i32;
    let height = (70 + 26 * n) as u32;
    let top = rows.iter().map(|r| r.1).max().unwrap_or(1) as f64 * 1.15;
    svg(height, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(46)
            .y_label_area_size(470)
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
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => rows
                    .get(*i as usize)
                    .map(|r| clip(&r.0, 70))
                    .unwrap_or_default(),
                SegmentValue::Last => String::new(),
            })
            .label_style(text_style(12.0, &INK))
            .axis_desc_style(text_style(13.0, &INK))
            .x_desc(format!(
                "rejected lines, summed over the last {} load(s)",
                data.health.loads.len()
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
        Ok(())
    })
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

/// Chart 7c: how long the recent runs took, most recent at the top.
fn run_durations(data: &ReportData) -> Result<String> {
    let runs = &data.health.runs;
    if runs.is_empty() {
        return svg(120, |root| nothing(root, "no run is recorded"));
    }
    let n = runs.len() as i32;
    let seconds: Vec<f64> = runs.iter().map(|r| r.seconds.unwrap_or(0.0)).collect();
    // Whole decades, so that the log axis always shows at least two labelled ticks.
    let fastest = seconds
        .iter()
        .copied()
        .filter(|s| *s > 0.0)
        .fold(f64::INFINITY, f64::min)
        .clamp(0.001, 1.0);
    let slowest = seconds.iter().copied().fold(1.0, f64::max) * 1.5;
    let low = 10f64.powf(fastest.log10().floor());
    let high = 10f64.powf(slowest.log10().ceil());
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
    let height = (110 + 24 * n) as u32;
    svg(height, |root| {
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
            .x_label_formatter(&|v| {
                if *v >= 1.0 { short(*v) } else { format!("{v}") }
            })
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                    labels.get(*i as usize).cloned().unwrap_or_default()
                }
                SegmentValue::Last => String::new(),
            })
            .label_style(text_style(12.0, &INK))
            .axis_desc_style(text_style(13.0, &INK))
            .x_desc("seconds (log scale)")
            .draw()?;
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
                    .filter(|(_, r)| r.status == status)
                    .map(|(i, r)| {
                        let i = i as i32;
                        let mut bar = Rectangle::new(
                            [
                                (low, SegmentValue::Exact(i)),
                                (
                                    r.seconds.unwrap_or(low).max(low),
                                    SegmentValue::Exact(i + 1),
                                ),
                            ],
                            color.filled(),
                        );
                        bar.set_margin(3, 3, 0, 0);
                        bar
                    }),
            )?;
        }
        chart.draw_series(runs.iter().enumerate().map(|(i, r)| {
            Text::new(
                match r.seconds {
                    Some(s) if s >= 10.0 => format!(" {s:.0} s"),
                    Some(s) => format!(" {s:.2} s"),
                    None => " running".to_owned(),
                },
                (
                    r.seconds.unwrap_or(low).max(low),
                    SegmentValue::CenterOf(i as i32),
                ),
                text_style(11.0, &INK).pos(Pos::new(HPos::Left, VPos::Center)),
            )
        }))?;
        Ok(())
    })
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
            caption: "Revenue (sum of total_spent) of each purchase day with its trailing 7-day moving \
                      average, and the orders of each day on the right axis."
                .into(),
            svg: daily_revenue(data).context("cannot draw the daily revenue")?,
        },
        Chart {
            id: "new-vs-returning",
            title: "New vs returning customers per week".into(),
            caption: weeks_caption.into(),
            svg: new_vs_returning(data).context("cannot draw the weekly customers")?,
        },
        Chart {
            id: "cohort-retention",
            title: "Monthly cohort retention".into(),
            caption: "Of the customers whose first order fell in a month (a row), the share who ordered \
                      again k months later (a column); the colour saturates at the 98th percentile of the shares after month 0."
                .into(),
            svg: cohort_heatmap(data).context("cannot draw the cohorts")?,
        },
        Chart {
            id: "repeat-purchases",
            title: "Repeat purchases".into(),
            caption: "Customers by the number of orders they placed in the range (any status), on a log \
                      scale: most customers buy once."
                .into(),
            svg: repeat_histogram(data).context("cannot draw the repeat purchases")?,
        },
        Chart {
            id: "days-between-orders",
            title: "Days between purchases".into(),
            caption: "For each repeat purchase day, the days since the same customer's previous purchase day."
                .into(),
            svg: days_between(data).context("cannot draw the days between orders")?,
        },
        Chart {
            id: "order-values",
            title: "Order value distribution".into(),
            caption: "Average order value of each customer's day (avg_order_value of the daily rows); \
                      the values above the 99th percentile are gathered in the last, orange bar."
                .into(),
            svg: order_values(data).context("cannot draw the order values")?,
        },
    ];
    let health = vec![
        Chart {
            id: "health-rejected",
            title: "Rejected lines by reason".into(),
            caption: format!(
                "Lines rejected by the last {RECENT_LOADS} loads (at most), by rule, summed over those loads: quoted values \
                 are shown as \"…\" and numbers as N; a file loaded again counts again."
            ),
            svg: rejected_by_reason(data).context("cannot draw the rejected lines")?,
        },
        Chart {
            id: "health-days",
            title: "Days computed, missing or stale".into(),
            caption:
                "Each day of the range: its statistics are computed, missing (never computed) or \
                      stale (computed before a later load or with other stage options)."
                    .into(),
            svg: calendar(data).context("cannot draw the calendar")?,
        },
        Chart {
            id: "health-runs",
            title: "Recent runs".into(),
            caption:
                "How long each of the most recent runs took, by stage, most recent at the top."
                    .into(),
            svg: run_durations(data).context("cannot draw the run durations")?,
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
                minijinja::context! {
                    id => c.id,
                    title => c.title.clone(),
                    caption => c.caption.clone(),
                    svg => minijinja::Value::from_safe_string(c.svg.clone()),
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
    use super::*;

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
